#pragma once
// Cache keys: which stored response answers which request. Pure.
//
//   blob/<registry>/<digest>                   blobs are shared by every repository of a registry
//   manifest/<registry>/<name>@<digest>        immutable manifests
//   tag/<registry>/<name>:<tag>#<variant>      mutable tags, one entry per Accept variant
//
// <registry> is the lower-cased host, plus ":port" unless the port is 443. The separators are
// chosen so that no two requests share a key: a registry holds no '/', a repository name holds no
// ':' or '@', a tag holds no '#', and the variant (which may contain '/') comes last. Keys are
// opaque index keys and never become file names.
#include "cache/registry_request.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::cache {

std::string registry_authority(std::string_view host, std::uint16_t port);

// The <registry> of the keys for a registry as an image reference names it ("docker.io",
// "quay.io:443", "Registry.Test:5000"): entries are stored under the host that was connected to,
// so Docker Hub's names all become "registry-1.docker.io", and ":443" goes as in
// registry_authority().
std::string key_registry(std::string_view registry);

// The media types of an Accept header as a canonical variant: split on commas, parameters
// (";q=0.9") and whitespace dropped, lower-cased, sorted, de-duplicated, joined with ",".
// Clients that accept the same set of types share an entry whatever their q-values or order.
std::string accept_variant(std::string_view accept_header);

// nullopt for kinds that are never cached.
std::optional<std::string> cache_key(const RegistryRequest& request, std::string_view registry,
                                     std::string_view accept_header);

}  // namespace pt::cache
