#pragma once
// Which bucket objects BLOB_STORE's eviction deletes (S3_MAX_SIZE, S3_INACTIVE): pure, so the
// order is tested without a bucket. The I/O (listing, deleting) is in
// proxy/registry/object_store_eviction.cpp.
//
// An object's last use is the later of its upload (the listing's LastModified, which every
// replica reads alike) and the last use this replica knows of (bucket_uses.hpp). With PEERS the
// owner of a key sees every request for it, so for the keys it owns (the only ones it deletes)
// its knowledge is the cluster's. A replica that just became owner (membership changed) knows no
// use yet: the upload time is the fallback, which errs towards keeping recently uploaded content.
#include "cache/timestamp.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pt::cache {

struct BucketObject {
  std::string key;  // the bucket key, the store's prefix taken off
  std::uint64_t size = 0;
  Timestamp uploaded{};                // LastModified
  std::optional<Timestamp> last_used;  // known to this replica
  bool owned = true;                   // this replica deletes it (PEERS: its owner)

  Timestamp last_touched() const { return last_used ? std::max(uploaded, *last_used) : uploaded; }
};

struct BucketLimits {
  std::uint64_t max_bytes = 0;        // S3_MAX_SIZE (0: no limit)
  std::chrono::seconds inactive{0};  // S3_INACTIVE (0: off)
};

// The objects to delete from `objects`, least recently used first: every one unused for longer
// than `inactive`, then more until the rest is at most `max_bytes`. Objects another replica owns
// are counted as deleted (their owner deletes them, by the same rule) but not returned.
// Ties go by key, so replicas that know the same uses choose the same victims.
std::vector<BucketObject> bucket_victims(std::vector<BucketObject> objects, const BucketLimits& limits, Timestamp now);

}  // namespace pt::cache
