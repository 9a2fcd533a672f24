#pragma once
// What the cache knows about a tag: one record per registry, repository and tag, whatever client
// asked for it.
//
// A registry may answer one tag with different manifests depending on the client's Accept header
// (an image index to containerd, the linux/amd64 manifest to a client that takes no index). Each
// distinct answer is a variant; the manifests themselves are stored by digest
// ("manifest/<registry>/<name>@<digest>", cache_key.hpp), so a variant is only its digest, media
// type and size. Which variant answers a request is manifest_negotiation.hpp's decision.
//
// Freshness is the tag's, not a variant's: one upstream HEAD per freshness window revalidates
// the whole record, whichever client causes it (see Session::serve_tag).
#include "cache/digest.hpp"
#include "cache/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cache {

struct TagVariant {
  Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
  Timestamp fetched{};

  bool operator==(const TagVariant&) const = default;
};

struct TagRecord {
  std::string key;  // tag_record_key()
  std::vector<TagVariant> variants;
  // The digest upstream reports for the tag when asked with every manifest type
  // (revalidation_accept()): the tag's identity. A change means the tag moved and every variant
  // is out of date. Unknown until a revalidation or a fill that accepted every type.
  std::optional<Digest> head_digest;
  Timestamp fetched{};      // last time a variant was fetched
  Timestamp revalidated{};  // last upstream HEAD that confirmed the record
  Timestamp fresh_until{};

  bool operator==(const TagRecord&) const = default;
};

// Adds or replaces (same digest) `variant`. With `replace_all`, the variants fetched before are
// dropped first: the tag moved.
void merge_variant(TagRecord& record, TagVariant variant, bool replace_all);

// JSON, like the index's entries; nullopt for a damaged or unknown record.
std::string encode_tag_record(const TagRecord& record);
std::optional<TagRecord> decode_tag_record(std::string_view key, std::string_view value);

}  // namespace pt::cache
