#pragma once
// What a registry session needs, handed in by the app: the few settings it reads and the
// long-lived, thread-safe services built at start-up. Nothing else of the configuration reaches a
// session, so a test builds one from fakes and a temporary cache.
#include "proxy/registry/access_record.hpp"

#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>

namespace pt {
namespace auth {
class RegistryMatcher;
class CredentialStore;
class CacheAuthModes;
class AccessVerdicts;
}  // namespace auth
namespace cache {
class CacheStore;
class ManifestCachePolicy;
class RegistryPolicy;
}  // namespace cache
namespace net {
class UpstreamTls;
class ResolveOverrides;
}  // namespace net
namespace cluster {
class Members;
}  // namespace cluster
}  // namespace pt

namespace pt::registry {

class UpstreamFallbacks;
class UpstreamHealth;
class TokenCache;
class Revalidations;
class PeerPool;
struct ObjectStore;

// REGISTRY_MIRRORS: the chains of upstreams (they change on SIGHUP), what was learnt of their
// upstreams while pulling, and the Bearer tokens the proxy fetched from them.
struct Fallbacks {
  const UpstreamFallbacks& chains;
  UpstreamHealth& health;
  TokenCache& tokens;
};

// PEERS: the replicas acting as one cache. A request another replica owns is forwarded to it over
// the peer link; a request from the peer link is served here as on a single node.
struct Cluster {
  cluster::Members& members;
  net::UpstreamTls& tls;                 // the peer link's: our peer certificate, trusting only the root
  const net::ResolveOverrides& resolve;  // peer names through RESOLVERS; never UPSTREAM_PROXY
  PeerPool& pool;                        // kept-alive connections to the members
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(2);  // PEER_CONNECT_TIMEOUT
};

struct Settings {
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds header_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds client_idle_timeout = std::chrono::seconds(120);
  std::chrono::milliseconds upstream_idle_timeout = std::chrono::seconds(300);
  std::size_t max_header_bytes = 64 * 1024;
  bool allow_push = false;  // ALLOW_PUSH
  bool offline = false;     // OFFLINE: no upstream connection at all, the cache answers everything
  std::chrono::milliseconds referrers_freshness = std::chrono::minutes(5);  // REFERRERS_CACHE_TIME
};

struct Dependencies {
  Settings settings;
  net::UpstreamTls& upstream_tls;
  const net::ResolveOverrides& resolve;
  const auth::RegistryMatcher& registries;  // REGISTRIES: the mirror port serves only these
  const auth::CredentialStore& credentials;  // AUTH_REGISTRIES
  asio::thread_pool& blocking;               // RocksDB and fsync, never on an I/O thread
  cache::CacheStore* cache;                  // null: nothing is cached
  const cache::ManifestCachePolicy& manifest_policy;
  RequestObserver& observer;                       // the access log and the metrics
  const auth::CacheAuthModes* cache_auth = nullptr;  // CACHE_AUTH_MODE (null: shared)
  auth::AccessVerdicts* verdicts = nullptr;          // remembered verify-mode acceptances
  Fallbacks* fallbacks = nullptr;                    // null: every registry is its own only upstream
  Revalidations* revalidations = nullptr;            // one HEAD per stale tag at a time (null: one per request)
  const cache::RegistryPolicy* registry_policy = nullptr;  // REGISTRY_POLICY allow/deny (null: all allowed)
  Cluster* cluster = nullptr;                              // null: one node, every request served here
  const ObjectStore* object_store = nullptr;               // BLOB_STORE's bucket (null: the local disk only)
};

}  // namespace pt::registry
