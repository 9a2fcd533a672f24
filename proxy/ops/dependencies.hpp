#pragma once
// What the proxy's own endpoints read, handed in by the app.
#include <asio/thread_pool.hpp>

#include <atomic>
#include <string>

namespace pt {
namespace ca {
class RootCa;
}  // namespace ca
namespace cache {
class CacheStore;
}  // namespace cache
namespace registry {
struct Dependencies;
class ObjectStoreHealth;
}  // namespace registry
namespace cluster {
class Members;
}  // namespace cluster
}  // namespace pt

namespace pt::ops {

class Metrics;

struct Dependencies {
  const ca::RootCa& root_ca;         // GET /ca.crt
  cache::CacheStore* cache;          // null: caching is off
  const Metrics& metrics;            // /metrics and the status page
  const std::atomic<bool>& serving;  // /healthz: 503 until the listeners accept
  asio::thread_pool& blocking;       // the admin API's cache work
  std::string admin_token;           // ADMIN_TOKEN
  // POST /admin/warm runs registry sessions of its own (warm_job.hpp). Null: no warming.
  registry::Dependencies* registry = nullptr;
  const cluster::Members* members = nullptr;  // PEERS: the status page and /metrics show them (null: one node)
  const registry::ObjectStoreHealth* object_store = nullptr;  // BLOB_STORE's counters (null: no bucket)
};

}  // namespace pt::ops
