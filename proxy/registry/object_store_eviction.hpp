#pragma once
// S3_MAX_SIZE and S3_INACTIVE: the bucket kept under a size, and rid of what nobody used for a
// while, by an LRU the replicas agree on with no database they share. With PEERS every request
// for a key goes to its owner (rendezvous on the digest), so the owner's own record of its last
// use (cache/bucket_uses.hpp) is the cluster's; each replica ranks the listing by it
// (cache/bucket_eviction_policy.hpp) and deletes only the victims it owns, so each victim is
// deleted once. Run now and then by the proxy, and by `pullthrough cache bucket-gc`.
#include "cache/bucket_eviction_policy.hpp"
#include "cache/timestamp.hpp"
#include "proxy/registry/object_store.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace pt::cluster {
class Members;
}  // namespace pt::cluster

namespace pt::registry {

struct BucketEviction {
  std::uint64_t objects = 0;  // objects listed (content and tag records)
  std::uint64_t bytes = 0;    // their total size before
  std::uint64_t deleted = 0;
  std::uint64_t deleted_bytes = 0;
  // Keys of `last_used` the bucket no longer holds (deleted now, or gone before): their records
  // can be forgotten. Only filled when the listing ran through.
  std::vector<std::string> gone;
  std::string error;          // why it stopped early (empty: it ran through)
};

struct BucketEvictionRequest {
  cache::BucketLimits limits;
  cache::Timestamp now = cache::now_timestamp();
  const cluster::Members* members = nullptr;  // PEERS: only owned victims are deleted (null: all)
  // The last uses this replica knows, by bucket key (null: none; the upload times alone rank).
  const std::unordered_map<std::string, cache::Timestamp>* last_used = nullptr;
};

// Deletes the least recently used objects (blobs/, tags/) unused for longer than limits.inactive,
// then until the bucket holds at most limits.max_bytes.
asio::awaitable<BucketEviction> evict_bucket(const ObjectStore& store, const BucketEvictionRequest& request);

}  // namespace pt::registry
