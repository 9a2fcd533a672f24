#pragma once
// What one handled request was, for the access log and the metrics: who asked for what, what came
// back, how big, how long, and where it was served from. The sessions fill it in; whoever watches
// them (ops: the access log and the metrics) is handed in as a RequestObserver, never reached
// through a global.
#include "cache/cache_policy.hpp"
#include "cache/registry_request.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pt::registry {

// Where a response's bytes came from: the cache's own outcomes, and what never reached the cache.
enum class CacheStatus {
  none,         // no response, or one of no cache decision
  hit,          // from the cache (or a fill another client started)
  miss,         // fetched upstream for the cache
  revalidated,  // stored tag manifest confirmed by upstream
  stale,        // stored copy served because upstream failed
  bypass,       // relayed uncached (not cacheable, refused, pushes)
  tunnel,       // a CONNECT relayed blind, not intercepted
  local,        // answered by the proxy itself (its pages, refusals)
};

// "HIT", "MISS", ..., "" for none: the access log's and the X-Cache header's text.
std::string_view to_string(CacheStatus status) noexcept;
CacheStatus from_cache(cache::CacheStatus status) noexcept;

struct AccessRecord {
  std::uint64_t session = 0;
  std::string client;       // ip:port
  std::string host;         // registry host[:port]
  std::string method;
  std::string path;         // without the query string: it may carry account names
  int status = 0;           // 0: no response was sent
  std::uint64_t bytes = 0;  // body bytes sent to the client
  std::chrono::steady_clock::duration duration{};
  CacheStatus cache = CacheStatus::none;
  cache::RegistryRequest request;  // what the request asked the registry for (kind other: not classified)
  std::string upstream;            // REGISTRY_MIRRORS: the upstream that answered (empty: the registry, as always)
  std::string peer;                // PEERS: the replica that owns it and served it (empty: served here)
  bool for_peer = false;           // served for another replica, over the peer link
  std::string error;               // why it failed, when it did
};

// Told of every request once it is done, and of each upstream response head's latency. Called on
// the I/O threads: implementations must be cheap and thread-safe.
class RequestObserver {
public:
  virtual ~RequestObserver() = default;
  virtual void request_done(const AccessRecord& record) = 0;
  virtual void upstream_latency(std::chrono::steady_clock::duration elapsed) = 0;
  // A peer replica could not be reached, or failed before its response head (PEERS).
  virtual void peer_failed(std::string_view member) { (void)member; }
};

}  // namespace pt::registry
