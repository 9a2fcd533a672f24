#include "proxy/ops/metrics.hpp"

#include "proxy/registry/object_store.hpp"

#include "cache/cache_store.hpp"
#include "cache/registry_request.hpp"
#include "proxy/ops/prometheus_text.hpp"

#include <algorithm>

namespace pt::ops {
namespace {

using registry::CacheStatus;

bool is_hit(CacheStatus cache) {
  return cache == CacheStatus::hit || cache == CacheStatus::stale || cache == CacheStatus::revalidated;
}

}  // namespace

ByteSource byte_source(CacheStatus cache_status) noexcept {
  if (is_hit(cache_status)) return ByteSource::cache;
  if (cache_status == CacheStatus::miss || cache_status == CacheStatus::bypass) return ByteSource::upstream;
  if (cache_status == CacheStatus::tunnel) return ByteSource::tunnel;
  return ByteSource::none;
}

std::string cache_label(CacheStatus cache_status) {
  return cache_status == CacheStatus::none ? std::string("NONE") : std::string(registry::to_string(cache_status));
}

std::optional<std::string> image_of(std::string_view host, const cache::RegistryRequest& request) {
  if (host.empty() || host == "-") return std::nullopt;
  // Pushes are classified as such whatever their path; only reads name an image we serve.
  switch (request.kind) {
    case cache::RequestKind::blob:
    case cache::RequestKind::manifest_by_digest:
    case cache::RequestKind::manifest_by_tag:
    case cache::RequestKind::tag_list:
    case cache::RequestKind::referrers:
      if (request.repository.empty()) return std::nullopt;
      return std::string(host) + "/" + request.repository;
    default: return std::nullopt;
  }
}

std::uint64_t MetricsSnapshot::cache_hits() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : requests) {
    if (is_hit(r.cache)) n += r.count;
  }
  return n;
}

std::uint64_t MetricsSnapshot::cache_misses() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : requests) {
    if (r.cache == CacheStatus::miss) n += r.count;
  }
  return n;
}

std::optional<double> MetricsSnapshot::hit_ratio() const noexcept {
  const auto hits = cache_hits();
  const auto all = hits + cache_misses();
  if (all == 0) return std::nullopt;
  return static_cast<double>(hits) / static_cast<double>(all);
}

std::optional<double> MetricsSnapshot::byte_hit_ratio() const noexcept {
  const auto all = bytes_from_cache + bytes_from_upstream;
  if (all == 0) return std::nullopt;
  return static_cast<double>(bytes_from_cache) / static_cast<double>(all);
}

Metrics::Metrics() : started_(std::chrono::steady_clock::now()), started_wall_(std::chrono::system_clock::now()) {}

void Metrics::record_request(const registry::AccessRecord& record) {
  const auto source = byte_source(record.cache);
  switch (source) {
    case ByteSource::cache: bytes_from_cache_.fetch_add(record.bytes, std::memory_order_relaxed); break;
    case ByteSource::upstream: bytes_from_upstream_.fetch_add(record.bytes, std::memory_order_relaxed); break;
    case ByteSource::tunnel: bytes_tunnelled_.fetch_add(record.bytes, std::memory_order_relaxed); break;
    case ByteSource::none: break;
  }
  if (!record.peer.empty()) {
    peer_forwarded_requests_.fetch_add(1, std::memory_order_relaxed);
    peer_forwarded_bytes_.fetch_add(record.bytes, std::memory_order_relaxed);
  }
  if (record.for_peer) {
    peer_served_requests_.fetch_add(1, std::memory_order_relaxed);
    peer_served_bytes_.fetch_add(record.bytes, std::memory_order_relaxed);
  }
  // Built before the lock: string work.
  std::optional<std::string> image;
  if (source == ByteSource::cache || source == ByteSource::upstream) image = image_of(record.host, record.request);

  std::lock_guard lock(mutex_);
  std::pair<int, CacheStatus> series{record.status, record.cache};
  // The cache statuses are a fixed set and statuses are three digits, so this never fills up in
  // practice; the bound is against a bug flooding the page.
  if (requests_.size() >= kMaxRequestSeries && !requests_.contains(series)) {
    series = {0, CacheStatus::none};
  }
  ++requests_[series];

  if (!image) return;
  auto it = images_.find(*image);
  if (it == images_.end()) {
    if (images_.size() >= kMaxImages) {
      // Full: the least served image makes room (an image pulled once, long ago, most likely).
      const auto least = std::min_element(images_.begin(), images_.end(), [](const auto& a, const auto& b) {
        return a.second.total() < b.second.total();
      });
      images_.erase(least);
    }
    it = images_.emplace(*image, ImageBytes{.image = *image}).first;
  }
  auto& bytes = it->second;
  ++bytes.requests;
  (source == ByteSource::cache ? bytes.from_cache : bytes.from_upstream) += record.bytes;
}

void Metrics::observe_upstream_latency(std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = std::lower_bound(kUpstreamLatencyBounds.begin(), kUpstreamLatencyBounds.end(), seconds) -
                      kUpstreamLatencyBounds.begin();  // le: an observation equal to a bound is in it
  latency_counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)), std::memory_order_relaxed);
}

MetricsSnapshot Metrics::snapshot(std::size_t top_images) const {
  MetricsSnapshot s;
  s.bytes_from_cache = bytes_from_cache_.load();
  s.bytes_from_upstream = bytes_from_upstream_.load();
  s.bytes_tunnelled = bytes_tunnelled_.load();
  for (const auto& count : latency_counts_) s.latency_counts.push_back(count.load());
  s.latency_sum_seconds = static_cast<double>(latency_sum_ns_.load()) / 1e9;
  s.uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  s.start_time_unix =
      std::chrono::duration_cast<std::chrono::seconds>(started_wall_.time_since_epoch()).count();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [series, count] : requests_) {
      s.requests.push_back({.status = series.first, .cache = series.second, .count = count});
    }
    s.images_tracked = images_.size();
    s.top_images.reserve(std::min(top_images, images_.size()));
    for (const auto& [name, bytes] : images_) s.top_images.push_back(bytes);
  }
  const auto by_bytes = [](const ImageBytes& a, const ImageBytes& b) {
    return a.total() != b.total() ? a.total() > b.total() : a.image < b.image;
  };
  const auto keep = std::min(top_images, s.top_images.size());
  std::partial_sort(s.top_images.begin(), s.top_images.begin() + static_cast<std::ptrdiff_t>(keep),
                    s.top_images.end(), by_bytes);
  s.top_images.resize(keep);
  return s;
}

PeerFigures Metrics::peer_figures() const {
  return {.forwarded_requests = peer_forwarded_requests_.load(),
          .forwarded_bytes = peer_forwarded_bytes_.load(),
          .served_requests = peer_served_requests_.load(),
          .served_bytes = peer_served_bytes_.load(),
          .failures = peer_failures_.load()};
}

std::optional<CacheFigures> cache_figures(cache::CacheStore* store) {
  if (store == nullptr) return std::nullopt;
  const auto& index = store->index();
  return CacheFigures{.bytes = index.total_bytes(),
                      .max_bytes = store->settings().max_bytes,
                      .files = index.file_count(),
                      .entries = index.entry_count(),
                      .fills_in_flight = store->fills().active_fills(),
                      .evicted_files = store->evicted_files(),
                      .evicted_bytes = store->evicted_bytes()};
}

std::size_t PeerFigures::up() const noexcept {
  return static_cast<std::size_t>(std::count_if(members.begin(), members.end(), [](const auto& m) { return m.up; }));
}

MetricsSnapshot current_metrics(const Metrics& metrics, cache::CacheStore* store, std::size_t top_images,
                                const cluster::Members* members, const registry::ObjectStoreHealth* bucket) {
  auto snapshot = metrics.snapshot(top_images);
  snapshot.cache = cache_figures(store);
  if (members) {
    snapshot.peers = metrics.peer_figures();
    snapshot.peers->members = members->states();
  }
  if (bucket) {
    snapshot.store = StoreFigures{.errors = bucket->errors(), .uploads = bucket->uploads(),
                                  .uploaded_bytes = bucket->uploaded_bytes(), .downloads = bucket->downloads()};
  }
  return snapshot;
}

std::string_view pullthrough_version() noexcept {
#ifdef PT_VERSION
  return PT_VERSION;
#else
  return "unknown";
#endif
}

std::string render_prometheus(const MetricsSnapshot& s, std::string_view version) {
  prometheus::TextWriter w;
  using L = prometheus::Labels;

  w.family("pullthrough_build_info", "gauge", "Always 1; the version of the running proxy as a label.");
  w.sample("pullthrough_build_info", L{{"version", std::string(version)}}, std::uint64_t{1});
  w.family("pullthrough_start_time_seconds", "gauge", "When the proxy started, in seconds since the Unix epoch.");
  w.sample("pullthrough_start_time_seconds", {}, static_cast<double>(s.start_time_unix));

  w.family("pullthrough_requests_total", "counter",
           "Requests handled, by response status (0: none was sent) and cache status "
           "(HIT, MISS, REVALIDATED, STALE, BYPASS, TUNNEL, LOCAL, NONE).");
  for (const auto& r : s.requests) {
    w.sample("pullthrough_requests_total", L{{"status", std::to_string(r.status)}, {"cache", cache_label(r.cache)}}, r.count);
  }

  w.family("pullthrough_served_bytes_total", "counter",
           "Response body bytes sent to clients, by where they came from: cache (HIT, STALE, REVALIDATED), "
           "upstream (MISS, BYPASS) or tunnel (connections not intercepted).");
  w.sample("pullthrough_served_bytes_total", L{{"source", "cache"}}, s.bytes_from_cache);
  w.sample("pullthrough_served_bytes_total", L{{"source", "upstream"}}, s.bytes_from_upstream);
  w.sample("pullthrough_served_bytes_total", L{{"source", "tunnel"}}, s.bytes_tunnelled);

  w.family("pullthrough_upstream_response_seconds", "histogram",
           "Time from starting an upstream request (connecting included) to its response head.");
  const std::vector<double> bounds(kUpstreamLatencyBounds.begin(), kUpstreamLatencyBounds.end());
  w.histogram("pullthrough_upstream_response_seconds", {}, bounds, s.latency_counts, s.latency_sum_seconds);

  if (s.cache) {
    const auto& c = *s.cache;
    w.family("pullthrough_cache_size_bytes", "gauge", "Bytes of blob files in the cache.");
    w.sample("pullthrough_cache_size_bytes", {}, c.bytes);
    w.family("pullthrough_cache_max_size_bytes", "gauge", "The cache's size cap (CACHE_MAX_SIZE).");
    w.sample("pullthrough_cache_max_size_bytes", {}, c.max_bytes);
    w.family("pullthrough_cache_files", "gauge", "Blob files in the cache (shared by entries of equal content).");
    w.sample("pullthrough_cache_files", {}, c.files);
    w.family("pullthrough_cache_entries", "gauge", "Cache entries (one per cached request key).");
    w.sample("pullthrough_cache_entries", {}, c.entries);
    w.family("pullthrough_cache_fills_in_flight", "gauge", "Downloads being written into the cache right now.");
    w.sample("pullthrough_cache_fills_in_flight", {}, c.fills_in_flight);
    w.family("pullthrough_cache_evictions_total", "counter",
             "Blob files evicted (size cap, CACHE_INACTIVE, cache gc) since the proxy started.");
    w.sample("pullthrough_cache_evictions_total", {}, c.evicted_files);
    w.family("pullthrough_cache_evicted_bytes_total", "counter", "Bytes of the blob files evicted since the proxy started.");
    w.sample("pullthrough_cache_evicted_bytes_total", {}, c.evicted_bytes);
  }
  if (s.peers) {
    const auto& p = *s.peers;
    w.family("pullthrough_peer_forwarded_requests_total", "counter",
             "Requests this replica forwarded to the replica owning them (PEERS).");
    w.sample("pullthrough_peer_forwarded_requests_total", {}, p.forwarded_requests);
    w.family("pullthrough_peer_forwarded_bytes_total", "counter", "Body bytes of the requests forwarded to their owner.");
    w.sample("pullthrough_peer_forwarded_bytes_total", {}, p.forwarded_bytes);
    w.family("pullthrough_peer_served_requests_total", "counter", "Requests this replica served for other replicas.");
    w.sample("pullthrough_peer_served_requests_total", {}, p.served_requests);
    w.family("pullthrough_peer_served_bytes_total", "counter", "Body bytes served for other replicas.");
    w.sample("pullthrough_peer_served_bytes_total", {}, p.served_bytes);
    w.family("pullthrough_peer_failures_total", "counter",
             "Peers that could not be reached, or failed before or during their answer.");
    w.sample("pullthrough_peer_failures_total", {}, p.failures);
    w.family("pullthrough_peer_members", "gauge", "Members of the cluster (PEERS), this replica included when listed.");
    w.sample("pullthrough_peer_members", {}, static_cast<std::uint64_t>(p.members.size()));
    w.family("pullthrough_peer_members_up", "gauge", "Members not skipped after a failure.");
    w.sample("pullthrough_peer_members_up", {}, static_cast<std::uint64_t>(p.up()));
  }
  if (s.store) {
    const auto& b = *s.store;
    w.family("pullthrough_s3_errors_total", "counter",
             "BLOB_STORE requests that failed (unreachable, refused, corrupt content); pulls went on without the bucket.");
    w.sample("pullthrough_s3_errors_total", {}, b.errors);
    w.family("pullthrough_s3_uploads_total", "counter", "Objects uploaded to the bucket after a verified fill.");
    w.sample("pullthrough_s3_uploads_total", {}, b.uploads);
    w.family("pullthrough_s3_uploaded_bytes_total", "counter", "Bytes of the objects uploaded to the bucket.");
    w.sample("pullthrough_s3_uploaded_bytes_total", {}, b.uploaded_bytes);
    w.family("pullthrough_s3_downloads_total", "counter", "Local misses answered from the bucket instead of upstream.");
    w.sample("pullthrough_s3_downloads_total", {}, b.downloads);
  }
  return w.text();
}

}  // namespace pt::ops
