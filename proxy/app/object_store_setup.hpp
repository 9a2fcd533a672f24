#pragma once
// BLOB_STORE at start-up: the bucket's settings checked (an error names the endpoint and bucket,
// never a secret), the bucket tried once with our credentials (wrong ones, or a missing bucket,
// stop the proxy: better than a cluster that silently never shares), and the multipart uploads a
// crash left behind aborted.
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
// S3_MAX_SIZE: an eviction pass soon after uploads (at most one per 10 s) and every 10 minutes,
// on `executor` until it stops. Nothing when S3_MAX_SIZE is 0.
void start_bucket_eviction(asio::any_io_executor executor, const registry::ObjectStore& store, std::uint64_t max_bytes,
                           const cluster::Members* members);

ObjectStoreSetup set_up_object_store(const Config& config, net::UpstreamTls& tls, const net::ResolveOverrides& resolve,
                                     cache::CacheStore* cache, asio::thread_pool& blocking,
                                     const cluster::Members* members);

}  // namespace pt::app
