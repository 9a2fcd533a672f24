#pragma once
// What the proxy has done since it started, for GET /metrics (Prometheus) and the status page.
//
// One registry, made by the app and handed to what feeds and reads it: every request's AccessRecord
// and the time to each upstream response head arrive through the AccessLog (the sessions'
// RequestObserver); /metrics and the status page read snapshots. Cache
// figures (size, entries, fills, evictions) are not copied here: they are read from the
// CacheStore at scrape time, so they can never drift from the cache itself.
//
// Thread-safe: plain counters are atomics; the labelled request counts and the per-image byte
// totals sit behind a mutex (one short lock per request), and both are bounded in size.
#include "cache/registry_request.hpp"
#include "cluster/members.hpp"
#include "proxy/registry/access_record.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pt::cache {
class CacheStore;
}
namespace pt::registry {
class ObjectStoreHealth;
}

namespace pt::ops {

// Where the body bytes of a response came from, by its cache status.
enum class ByteSource {
  cache,     // HIT, STALE, REVALIDATED
  upstream,  // MISS, BYPASS
  tunnel,    // TUNNEL: not intercepted, relayed blind
  none,      // LOCAL and the rest: the proxy's own answers
};
ByteSource byte_source(registry::CacheStatus cache_status) noexcept;

// The cache status as a metrics label: "HIT", ..., "NONE" for none.
std::string cache_label(registry::CacheStatus cache_status);

// "host/repository" for a request of a registry's blob, manifest or tag API, else nullopt.
std::optional<std::string> image_of(std::string_view host, const cache::RegistryRequest& request);

// Upper bounds (seconds) of the upstream latency histogram's buckets; +Inf is implied.
inline constexpr std::array<double, 14> kUpstreamLatencyBounds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

struct RequestCount {
  int status = 0;
  registry::CacheStatus cache = registry::CacheStatus::none;
  std::uint64_t count = 0;
};

struct ImageBytes {
  std::string image;  // host/repository
  std::uint64_t from_cache = 0;
  std::uint64_t from_upstream = 0;
  std::uint64_t requests = 0;
  std::uint64_t total() const noexcept { return from_cache + from_upstream; }
};

// Read from the CacheStore at scrape time.
struct CacheFigures {
  std::uint64_t bytes = 0;
  std::uint64_t max_bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t entries = 0;
  std::uint64_t fills_in_flight = 0;
  std::uint64_t evicted_files = 0;
  std::uint64_t evicted_bytes = 0;
};

// PEERS: what went over the peer link, and the members as this replica sees them now.
struct PeerFigures {
  std::uint64_t forwarded_requests = 0;  // sent to their owner
  std::uint64_t forwarded_bytes = 0;
  std::uint64_t served_requests = 0;     // served here for another replica
  std::uint64_t served_bytes = 0;
  std::uint64_t failures = 0;            // a peer unreachable, or failing before or during its answer
  std::vector<cluster::Members::State> members;
  std::size_t up() const noexcept;
};

// BLOB_STORE: the bucket's traffic and failures.
struct StoreFigures {
  std::uint64_t errors = 0;
  std::uint64_t uploads = 0;
  std::uint64_t uploaded_bytes = 0;
  std::uint64_t downloads = 0;
};

struct MetricsSnapshot {
  std::vector<RequestCount> requests;  // by status, then cache status
  std::uint64_t bytes_from_cache = 0;
  std::uint64_t bytes_from_upstream = 0;
  std::uint64_t bytes_tunnelled = 0;
  std::vector<std::uint64_t> latency_counts;  // per bucket of kUpstreamLatencyBounds, then +Inf
  double latency_sum_seconds = 0;
  std::vector<ImageBytes> top_images;  // most bytes served first
  std::uint64_t images_tracked = 0;
  std::chrono::seconds uptime{0};
  std::int64_t start_time_unix = 0;  // seconds since the epoch
  std::optional<CacheFigures> cache;  // nullopt: caching is off
  std::optional<PeerFigures> peers;   // nullopt: no cluster (PEERS unset)
  std::optional<StoreFigures> store;  // nullopt: no bucket (BLOB_STORE unset)

  // Requests answered from the cache (HIT, STALE, REVALIDATED) and from upstream by a cacheable
  // request (MISS); BYPASS (not cacheable) counts for neither.
  std::uint64_t cache_hits() const noexcept;
  std::uint64_t cache_misses() const noexcept;
  // hits / (hits + misses), nullopt before any cacheable request.
  std::optional<double> hit_ratio() const noexcept;
  // bytes from cache / all bytes served by intercepted requests, nullopt before any.
  std::optional<double> byte_hit_ratio() const noexcept;
};

class Metrics {
public:
  // Distinct (status, cache status) pairs and images kept; beyond, the least served image goes
  // and requests of unseen pairs count under status 0 with no cache status.
  static constexpr std::size_t kMaxRequestSeries = 256;
  static constexpr std::size_t kMaxImages = 500;

  Metrics();

  void record_request(const registry::AccessRecord& record);
  void observe_upstream_latency(std::chrono::steady_clock::duration elapsed);
  void record_peer_failure() { peer_failures_.fetch_add(1, std::memory_order_relaxed); }

  // Everything counted so far, with the `top_images` most served images; cache figures not set.
  MetricsSnapshot snapshot(std::size_t top_images) const;
  // The peer link's counters; `members` not set.
  PeerFigures peer_figures() const;

private:
  const std::chrono::steady_clock::time_point started_;
  const std::chrono::system_clock::time_point started_wall_;

  std::atomic<std::uint64_t> bytes_from_cache_{0};
  std::atomic<std::uint64_t> bytes_from_upstream_{0};
  std::atomic<std::uint64_t> bytes_tunnelled_{0};
  std::atomic<std::uint64_t> peer_forwarded_requests_{0};
  std::atomic<std::uint64_t> peer_forwarded_bytes_{0};
  std::atomic<std::uint64_t> peer_served_requests_{0};
  std::atomic<std::uint64_t> peer_served_bytes_{0};
  std::atomic<std::uint64_t> peer_failures_{0};
  std::array<std::atomic<std::uint64_t>, kUpstreamLatencyBounds.size() + 1> latency_counts_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};

  mutable std::mutex mutex_;
  std::map<std::pair<int, registry::CacheStatus>, std::uint64_t> requests_;
  std::unordered_map<std::string, ImageBytes> images_;
};

// The cache's figures now; nullopt when `store` is null. Non-blocking (atomics and one short lock).
std::optional<CacheFigures> cache_figures(cache::CacheStore* store);

// The metrics' snapshot with the cache's figures: what /metrics and the status page show.
// `members`: the cluster's (null: no cluster), whose peer figures are then included.
MetricsSnapshot current_metrics(const Metrics& metrics, cache::CacheStore* store, std::size_t top_images,
                                const cluster::Members* members = nullptr,
                                const registry::ObjectStoreHealth* bucket = nullptr);

// "0.1.0": the project version from CMake.
std::string_view pullthrough_version() noexcept;

// The whole /metrics body (Prometheus text format 0.0.4), names prefixed pullthrough_. Pure.
std::string render_prometheus(const MetricsSnapshot& snapshot, std::string_view version);

}  // namespace pt::ops
