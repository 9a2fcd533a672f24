#pragma once
// Cache keys: which stored response answers which request. Pure.
//
//   blob/<registry>/<digest>                   blobs are shared by every repository of a registry
//   manifest/<registry>/<name>@<digest>        immutable manifests
//   tag/<registry>/<name>:<tag>                mutable tags: one TagRecord each (tag_record.hpp),
//                                              whatever the client's Accept
//   referrers/<registry>/<name>@<digest>[?artifactType=<type>]
//                                              OCI referrers lists: mutable, kept briefly
//
// <registry> is the lower-cased host, plus ":port" unless the port is 443; Docker Hub's names all
// become "registry-1.docker.io". The separators are chosen so that no two requests share a key: a
// registry holds no '/', a repository name holds no ':' or '@', a tag holds no '#'. Keys are
// opaque index keys and never become file names.
//
// Caches written before tag records had "tag/<registry>/<name>:<tag>#<accept variant>" entries,
// one per Accept header; CacheStore::open converts them (is_legacy_tag_key).
#include "cache/registry_request.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::cache {

// The <registry> of the keys for a host connected to.
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

// nullopt for kinds that are never cached. A tag's key names its record, not a manifest.
std::optional<std::string> cache_key(const RegistryRequest& request, std::string_view registry);

// The key of the manifest `digest` of `repository`: where a tag's variants are stored.
std::string manifest_key(std::string_view registry, std::string_view repository, const Digest& digest);

// What concurrent fetches of a tag share: the same tag asked with the same Accept (a registry may
// answer another Accept with another manifest). A fill key, never an index key.
std::string tag_fill_key(std::string_view tag_key, std::string_view accept_header);

// "tag/<registry>/<name>:<tag>#<variant>", a key of the index before tag records.
bool is_legacy_tag_key(std::string_view key);

}  // namespace pt::cache
