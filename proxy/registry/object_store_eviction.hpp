#pragma once
// S3_MAX_SIZE: the bucket kept under a size, with no database the replicas share. Every replica
// lists the bucket and ranks its objects the same way, oldest upload first (the listing's
// LastModified is all S3 gives every reader alike; access times live in each replica's own index),
// and picks the same victims; with PEERS each deletes only the victims it owns (rendezvous on the
// digest), so the cluster deletes each victim once. Run now and then by the proxy, and by
// `pullthrough cache gc`.
#include "proxy/registry/object_store.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace pt::cluster {
class Members;
}  // namespace pt::cluster

namespace pt::registry {

struct BucketEviction {
  std::uint64_t objects = 0;  // content objects listed
  std::uint64_t bytes = 0;    // their total size before
  std::uint64_t deleted = 0;
  std::uint64_t deleted_bytes = 0;
  std::string error;          // why it stopped early (empty: it ran through)
};

// Deletes the oldest content objects until the bucket's content is at most `max_bytes`.
// `members`: with PEERS, only the victims this replica owns are deleted (null: all of them).
asio::awaitable<BucketEviction> evict_bucket(const ObjectStore& store, std::uint64_t max_bytes,
                                             const cluster::Members* members);

}  // namespace pt::registry
