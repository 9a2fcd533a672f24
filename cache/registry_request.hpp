#pragma once
// Classifies an HTTP request to a registry (OCI distribution API) by what it asks for, so the
// cache knows what it may store. Pure: no I/O.
//
// Anything that does not match the spec's grammar exactly (percent-encoding, "..", "//", unknown
// digest algorithms, query strings on blob or manifest URLs) is `other` and is never cached: the
// proxy still forwards it, but nothing derived from it becomes a key or a path.
#include "cache/digest.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pt::cache {

enum class RequestKind {
  ping,                // GET|HEAD /v2/
  blob,                // GET|HEAD /v2/<name>/blobs/sha256:<hex>
  manifest_by_digest,  // GET|HEAD /v2/<name>/manifests/sha256:<hex>
  manifest_by_tag,     // GET|HEAD /v2/<name>/manifests/<tag>
  tag_list,            // GET|HEAD /v2/<name>/tags/list[?n=..&last=..]
  referrers,           // GET|HEAD /v2/<name>/referrers/sha256:<hex>[?artifactType=<type>] (OCI 1.1)
  catalog,             // GET|HEAD /v2/_catalog[?...]
  push,                // POST/PUT/PATCH/DELETE anywhere, or anything under /blobs/uploads/
  other,               // everything else, including malformed or hostile paths
};

std::string_view to_string(RequestKind kind) noexcept;

struct RegistryRequest {
  RequestKind kind = RequestKind::other;
  bool is_head = false;
  std::string repository;        // validated name for blob/manifest/tag_list, else empty
  std::string reference;         // the tag or digest text for manifests and blobs
  std::optional<Digest> digest;  // set for blob and manifest_by_digest; the subject for referrers
  std::string artifact_type;     // referrers: the artifactType filter as sent (percent-encoded), or empty
};

// `target` is the request target in origin form ("/v2/library/nginx/manifests/latest?x=y").
RegistryRequest classify_request(std::string_view method, std::string_view target);

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 characters.
bool is_valid_repository_name(std::string_view name);

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool is_valid_tag(std::string_view tag);

}  // namespace pt::cache
