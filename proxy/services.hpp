#pragma once
// What every connection shares: configuration and the long-lived, thread-safe services built from
// it at start-up. Owned by main, passed by reference.
#include "proxy/config.hpp"
#include "proxy/resolve_overrides.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>

namespace pt {
namespace ca {
class RootCa;
class LeafContextCache;
}  // namespace ca
namespace cache {
class CacheStore;
class ManifestCachePolicy;
}  // namespace cache
namespace auth {
class RegistryMatcher;
class CredentialStore;
class ConnectPolicy;
class ProxyAuthenticator;
class CacheAuthModes;
class AccessVerdicts;
}  // namespace auth
class UpstreamTls;
class ConnectionLimits;

struct Services {
  const Config& config;
  const ca::RootCa& root_ca;
  ca::LeafContextCache& leaves;
  UpstreamTls& upstream_tls;
  const ResolveOverrides& resolve;
  const auth::RegistryMatcher& registries;
  const auth::CredentialStore& credentials;
  asio::thread_pool& blocking;
  cache::CacheStore* cache;  // null: nothing is cached
  const cache::ManifestCachePolicy& manifest_policy;
  // Who may use the proxy. Null members impose nothing (unit tests build Services by hand).
  ConnectionLimits* limits = nullptr;                   // ALLOWED_CLIENTS, MAX_CONNECTIONS*
  auth::ProxyAuthenticator* proxy_auth = nullptr;       // PROXY_AUTH_FILE
  const auth::ConnectPolicy* connect_policy = nullptr;  // ALLOWED_CONNECT
  const auth::CacheAuthModes* cache_auth = nullptr;     // CACHE_AUTH_MODE (null: shared)
  auth::AccessVerdicts* verdicts = nullptr;             // remembered verify-mode acceptances

  std::atomic<std::uint64_t> next_session{1};
  std::atomic<bool> serving{false};
};

}  // namespace pt
