#include "proxy/ops/metrics.hpp"

#include "../../cache/store_helpers.hpp"
#include "../../cache/temp_dir.hpp"
#include "cache/cache_store.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <sstream>
#include <thread>

using namespace pt;
using namespace pt::ops;
using namespace std::chrono_literals;

namespace {

// The cache status the access log shows as `label` ("HIT", ...; "" for none).
registry::CacheStatus status_of(std::string_view label) {
  using registry::CacheStatus;
  for (auto status : {CacheStatus::none, CacheStatus::hit, CacheStatus::miss, CacheStatus::revalidated,
                      CacheStatus::stale, CacheStatus::bypass, CacheStatus::tunnel, CacheStatus::local}) {
    if (registry::to_string(status) == label) return status;
  }
  FAIL("no cache status " << label);
  return CacheStatus::none;
}

// A record as a session fills it in: the request classified, the cache status typed.
registry::AccessRecord request(std::string_view cache, int status, std::uint64_t bytes, std::string path = "/v2/",
                               std::string host = "registry.test:5000", std::string method = "GET") {
  auto classified = pt::cache::classify_request(method, path);
  return registry::AccessRecord{.host = std::move(host), .method = std::move(method), .path = std::move(path),
                                .status = status, .bytes = bytes, .cache = status_of(cache),
                                .request = std::move(classified)};
}

std::optional<std::string> image_of(std::string_view host, std::string_view method, std::string_view path) {
  return pt::ops::image_of(host, pt::cache::classify_request(method, path));
}

const std::string kBlob = "/v2/library/app/blobs/sha256:" + std::string(64, 'a');

std::uint64_t count_of(const MetricsSnapshot& s, int status, const std::string& cache) {
  for (const auto& r : s.requests) {
    if (r.status == status && cache_label(r.cache) == cache) return r.count;
  }
  return 0;
}

// A strict reader of the text format: every line is a HELP, a TYPE or a sample of the family
// announced last; returns sample name{labels} -> value.
struct Parsed {
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types;
};

Parsed parse_exposition(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (\S+))");
  Parsed parsed;
  std::istringstream in(text);
  std::string line, family, helped;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      helped = m[1];
    } else if (std::regex_match(line, m, type)) {
      INFO(line);
      CHECK(m[1] == helped);  // TYPE follows its HELP
      CHECK(parsed.types.count(m[1]) == 0);  // each family once
      family = m[1];
      parsed.types[family] = m[2];
    } else {
      INFO(line);
      REQUIRE(std::regex_match(line, m, sample));
      const std::string name = m[1];
      const bool belongs = name == family ||
                           (parsed.types[family] == "histogram" &&
                            (name == family + "_bucket" || name == family + "_sum" || name == family + "_count"));
      CHECK(belongs);
      const std::string value = m[5];
      CHECK(std::regex_match(value, std::regex(R"([+-]?Inf|NaN|-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?)")));
      parsed.samples[line.substr(0, line.rfind(' '))] = value;
    }
  }
  return parsed;
}

}  // namespace

TEST_CASE("bytes are attributed by cache status") {
  CHECK(byte_source(status_of("HIT")) == ByteSource::cache);
  CHECK(byte_source(status_of("STALE")) == ByteSource::cache);
  CHECK(byte_source(status_of("REVALIDATED")) == ByteSource::cache);
  CHECK(byte_source(status_of("MISS")) == ByteSource::upstream);
  CHECK(byte_source(status_of("BYPASS")) == ByteSource::upstream);
  CHECK(byte_source(status_of("TUNNEL")) == ByteSource::tunnel);
  CHECK(byte_source(status_of("LOCAL")) == ByteSource::none);
  CHECK(byte_source(status_of("")) == ByteSource::none);
}

TEST_CASE("the image of a request is its registry and repository") {
  CHECK(image_of("registry.test:5000", "GET", kBlob) == "registry.test:5000/library/app");
  CHECK(image_of("quay.io", "HEAD", "/v2/org/sub/app/manifests/1.0") == "quay.io/org/sub/app");
  CHECK(image_of("quay.io", "GET", "/v2/org/app/manifests/sha256:" + std::string(64, 'b')) == "quay.io/org/app");
  CHECK(image_of("quay.io", "GET", "/v2/org/app/tags/list") == "quay.io/org/app");
  CHECK_FALSE(image_of("quay.io", "GET", "/v2/"));
  CHECK_FALSE(image_of("quay.io", "GET", "/token"));
  CHECK_FALSE(image_of("quay.io", "GET", "/v2/../etc/blobs/sha256:" + std::string(64, 'a')));
  CHECK_FALSE(image_of("quay.io", "PUT", "/v2/org/app/manifests/1.0"));
  CHECK_FALSE(image_of("-", "GET", kBlob));
}

TEST_CASE("requests are counted by status and cache status, bytes by source and image") {
  Metrics m;
  m.record_request(request("MISS", 200, 1000, kBlob));
  m.record_request(request("HIT", 200, 1000, kBlob));
  m.record_request(request("HIT", 200, 500, "/v2/library/app/manifests/1.0"));
  m.record_request(request("STALE", 200, 10, "/v2/other/manifests/1.0", "quay.io"));
  m.record_request(request("BYPASS", 401, 20, "/v2/"));
  m.record_request(request("TUNNEL", 200, 7777, "-", "example.com:443", "CONNECT"));
  m.record_request(request("LOCAL", 404, 50, "/nope", "-"));
  m.record_request(request("", 400, 30, ""));

  const auto s = m.snapshot(10);
  CHECK(count_of(s, 200, "MISS") == 1);
  CHECK(count_of(s, 200, "HIT") == 2);
  CHECK(count_of(s, 200, "STALE") == 1);
  CHECK(count_of(s, 401, "BYPASS") == 1);
  CHECK(count_of(s, 200, "TUNNEL") == 1);
  CHECK(count_of(s, 404, "LOCAL") == 1);
  CHECK(count_of(s, 400, "NONE") == 1);
  CHECK(s.bytes_from_cache == 1510);
  CHECK(s.bytes_from_upstream == 1020);
  CHECK(s.bytes_tunnelled == 7777);
  CHECK(s.cache_hits() == 3);
  CHECK(s.cache_misses() == 1);
  CHECK(s.hit_ratio() == Approx(0.75));
  CHECK(s.byte_hit_ratio() == Approx(1510.0 / 2530.0));

  REQUIRE(s.top_images.size() == 2);
  CHECK(s.top_images[0].image == "registry.test:5000/library/app");
  CHECK(s.top_images[0].from_cache == 1500);
  CHECK(s.top_images[0].from_upstream == 1000);
  CHECK(s.top_images[0].requests == 3);
  CHECK(s.top_images[1].image == "quay.io/other");
  CHECK(s.images_tracked == 2);
  CHECK(m.snapshot(1).top_images.size() == 1);
  CHECK(m.snapshot(0).top_images.empty());
}

TEST_CASE("ratios are unknown before any cacheable request") {
  Metrics m;
  m.record_request(request("BYPASS", 200, 5));
  const auto s = m.snapshot(5);
  CHECK_FALSE(s.hit_ratio());
  CHECK(s.byte_hit_ratio() == Approx(0.0));
  CHECK_FALSE(Metrics().snapshot(5).byte_hit_ratio());
}

TEST_CASE("the per-image table is bounded: the least served image makes room") {
  Metrics m;
  for (std::size_t i = 0; i < Metrics::kMaxImages; ++i) {
    m.record_request(request("MISS", 200, 100 + i, "/v2/img" + std::to_string(i) + "/manifests/1"));
  }
  m.record_request(request("MISS", 200, 1, "/v2/newcomer/manifests/1"));
  const auto s = m.snapshot(Metrics::kMaxImages + 10);
  CHECK(s.images_tracked == Metrics::kMaxImages);
  const auto has = [&](const std::string& image) {
    return std::any_of(s.top_images.begin(), s.top_images.end(), [&](const auto& i) { return i.image == image; });
  };
  CHECK_FALSE(has("registry.test:5000/img0"));
  CHECK(has("registry.test:5000/img1"));
  CHECK(has("registry.test:5000/newcomer"));
  CHECK(s.bytes_from_upstream == 100 * Metrics::kMaxImages + Metrics::kMaxImages * (Metrics::kMaxImages - 1) / 2 + 1);
}

TEST_CASE("request series are bounded") {
  // Upstreams may answer any status code: a flood of odd ones must not grow the series for ever.
  Metrics m;
  for (int i = 0; i < static_cast<int>(Metrics::kMaxRequestSeries) + 50; ++i) {
    m.record_request(request("BYPASS", 1000 + i, 0));
  }
  const auto s = m.snapshot(0);
  CHECK(s.requests.size() == Metrics::kMaxRequestSeries + 1);
  CHECK(count_of(s, 0, "NONE") == 50);
}

TEST_CASE("upstream latency lands in le buckets, above the last bound in +Inf") {
  Metrics m;
  m.observe_upstream_latency(1ms);     // <= 0.005
  m.observe_upstream_latency(5ms);     // == 0.005: le, same bucket
  m.observe_upstream_latency(300ms);   // <= 0.5
  m.observe_upstream_latency(1000s);   // +Inf
  const auto s = m.snapshot(0);
  REQUIRE(s.latency_counts.size() == kUpstreamLatencyBounds.size() + 1);
  CHECK(s.latency_counts[0] == 2);
  CHECK(s.latency_counts[6] == 1);
  CHECK(s.latency_counts.back() == 1);
  CHECK(s.latency_sum_seconds == Approx(1000.306));
}

TEST_CASE("counting is thread-safe") {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 2000; ++i) {
        m.record_request(request(i % 2 ? "HIT" : "MISS", 200, 3, "/v2/img" + std::to_string(t) + "/manifests/x"));
        m.observe_upstream_latency(2ms);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto s = m.snapshot(10);
  CHECK(count_of(s, 200, "HIT") == 4000);
  CHECK(count_of(s, 200, "MISS") == 4000);
  CHECK(s.bytes_from_cache == 12000);
  CHECK(s.bytes_from_upstream == 12000);
  CHECK(s.latency_counts[0] == 8000);
  REQUIRE(s.top_images.size() == 4);
  for (const auto& image : s.top_images) CHECK(image.requests == 2000);
}

TEST_CASE("the /metrics body parses and holds every family") {
  Metrics m;
  m.record_request(request("MISS", 200, 1000, kBlob));
  m.record_request(request("HIT", 200, 400, kBlob));
  m.record_request(request("HIT", 206, 10, kBlob));
  m.observe_upstream_latency(20ms);
  auto s = m.snapshot(0);
  s.cache = CacheFigures{.bytes = 1000, .max_bytes = 2000, .files = 1, .entries = 2, .fills_in_flight = 0,
                         .evicted_files = 3, .evicted_bytes = 4096};
  const auto text = render_prometheus(s, "1.2.3\"x");
  const auto parsed = parse_exposition(text);
  const auto& v = parsed.samples;

  CHECK(parsed.types.at("pullthrough_requests_total") == "counter");
  CHECK(parsed.types.at("pullthrough_upstream_response_seconds") == "histogram");
  CHECK(parsed.types.at("pullthrough_cache_size_bytes") == "gauge");
  CHECK(v.at("pullthrough_build_info{version=\"1.2.3\\\"x\"}") == "1");
  CHECK(v.at("pullthrough_requests_total{status=\"200\",cache=\"MISS\"}") == "1");
  CHECK(v.at("pullthrough_requests_total{status=\"200\",cache=\"HIT\"}") == "1");
  CHECK(v.at("pullthrough_requests_total{status=\"206\",cache=\"HIT\"}") == "1");
  CHECK(v.at("pullthrough_served_bytes_total{source=\"cache\"}") == "410");
  CHECK(v.at("pullthrough_served_bytes_total{source=\"upstream\"}") == "1000");
  CHECK(v.at("pullthrough_served_bytes_total{source=\"tunnel\"}") == "0");
  CHECK(v.at("pullthrough_upstream_response_seconds_bucket{le=\"0.01\"}") == "0");
  CHECK(v.at("pullthrough_upstream_response_seconds_bucket{le=\"0.025\"}") == "1");
  CHECK(v.at("pullthrough_upstream_response_seconds_bucket{le=\"+Inf\"}") == "1");
  CHECK(v.at("pullthrough_upstream_response_seconds_count") == "1");
  CHECK(std::stod(v.at("pullthrough_upstream_response_seconds_sum")) == Approx(0.02));
  CHECK(v.at("pullthrough_cache_size_bytes") == "1000");
  CHECK(v.at("pullthrough_cache_max_size_bytes") == "2000");
  CHECK(v.at("pullthrough_cache_files") == "1");
  CHECK(v.at("pullthrough_cache_entries") == "2");
  CHECK(v.at("pullthrough_cache_fills_in_flight") == "0");
  CHECK(v.at("pullthrough_cache_evictions_total") == "3");
  CHECK(v.at("pullthrough_cache_evicted_bytes_total") == "4096");
  CHECK(v.count("pullthrough_start_time_seconds") == 1);
  for (const auto& [name, type] : parsed.types) CHECK(name.starts_with("pullthrough_"));
}

TEST_CASE("without a cache, /metrics has no cache families and still parses") {
  const auto text = render_prometheus(Metrics().snapshot(0), "0.1.0");
  const auto parsed = parse_exposition(text);
  CHECK(parsed.types.count("pullthrough_cache_size_bytes") == 0);
  CHECK(parsed.types.count("pullthrough_requests_total") == 1);
  CHECK(parsed.samples.at("pullthrough_upstream_response_seconds_count") == "0");
}

TEST_CASE("uptime counts from the metrics' creation; no cache, no cache figures") {
  const Metrics metrics;
  const auto s = metrics.snapshot(0);
  CHECK(s.uptime >= 0s);
  CHECK(s.start_time_unix > 1600000000);
  CHECK_FALSE(pullthrough_version().empty());
  CHECK_FALSE(current_metrics(metrics, nullptr, 3).cache);
}

TEST_CASE("cache figures are read from the store, evictions included") {
  pt::cache::test::TempDir dir;
  pt::cache::CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = 2500;  // room for two of the three 1000-byte entries below
  auto store = pt::cache::CacheStore::open(settings);
  const auto t0 = pt::cache::Timestamp(std::chrono::seconds(1'700'000'000));

  auto figures = cache_figures(store.get());
  REQUIRE(figures);
  CHECK(figures->bytes == 0);
  CHECK(figures->max_bytes == 2500);
  CHECK(figures->entries == 0);
  CHECK(figures->evicted_files == 0);

  for (unsigned i = 0; i < 3; ++i) {
    const auto content = pt::cache::test::make_content(1000, i + 1);
    REQUIRE_FALSE(pt::cache::test::store_content(*store, "key" + std::to_string(i), content, t0 + std::chrono::seconds(i)));
  }
  figures = cache_figures(store.get());
  CHECK(figures->bytes == 2000);
  CHECK(figures->files == 2);
  CHECK(figures->entries == 2);
  CHECK(figures->fills_in_flight == 0);
  CHECK(figures->evicted_files == 1);
  CHECK(figures->evicted_bytes == 1000);

  std::error_code ec;
  auto in_flight = store->fills().find_or_start("key-in-flight", ec);
  REQUIRE_FALSE(ec);
  CHECK(cache_figures(store.get())->fills_in_flight == 1);
  CHECK(current_metrics(Metrics(), store.get(), 0).cache->fills_in_flight == 1);
}
