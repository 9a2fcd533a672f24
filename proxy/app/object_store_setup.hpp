#pragma once
// BLOB_STORE at start-up: the bucket's settings checked (an error names the endpoint and bucket,
// never a secret), the bucket tried once with our credentials (wrong ones, or a missing bucket,
// stop the proxy: better than a cluster that silently never shares), and the multipart uploads a
// crash left behind aborted.
#include "cache/bucket_eviction_policy.hpp"
#include "proxy/app/config.hpp"
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/object_uploads.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/thread_pool.hpp>

#include <memory>

namespace pt::cache {
class CacheStore;
}  // namespace pt::cache
namespace pt::cluster {
class Members;
}  // namespace pt::cluster

namespace pt::app {

struct ObjectStoreSetup {
  std::unique_ptr<registry::ObjectStoreHealth> health;
  std::unique_ptr<registry::ObjectStore> store;
  std::unique_ptr<registry::ObjectUploads> uploads;
};

// The bucket of BLOB_STORE and the S3_* settings, unchecked and with no uploads: what a tool
// (`pullthrough cache bucket-gc`) needs. Throws std::invalid_argument for bad settings.
ObjectStoreSetup make_object_store(const Config& config, net::UpstreamTls& tls, const net::ResolveOverrides& resolve);

// Empty when BLOB_STORE is. Throws std::invalid_argument / std::runtime_error (fatal at start-up).
// `members`: with PEERS, only the uploads of keys this replica owns are aborted (another
// replica's may be in progress).
// S3_MAX_SIZE, S3_INACTIVE: eviction passes (least recently used first, by the last uses `cache_store`
// recorded; see registry/object_store_eviction.hpp) soon after uploads and now and then, on
// `executor` (the blocking pool: a pass reads the index) until it stops. Nothing when both are off.
void start_bucket_eviction(asio::any_io_executor executor, const registry::ObjectStore& store,
                           const cache::BucketLimits& limits, const cluster::Members* members,
                           cache::CacheStore* cache_store);

ObjectStoreSetup set_up_object_store(const Config& config, net::UpstreamTls& tls, const net::ResolveOverrides& resolve,
                                     cache::CacheStore* cache, asio::thread_pool& blocking,
                                     const cluster::Members* members);

}  // namespace pt::app
