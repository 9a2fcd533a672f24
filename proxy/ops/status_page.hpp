#pragma once
// The proxy's status page (GET /): hit ratio, bytes saved, cache use, top images, the tags the
// cache holds (from its index: they survive a restart), uptime and how to point a client at the
// proxy. Server-side HTML: no scripts, no external assets, every text
// from outside (image names, the Host header) escaped; it refreshes itself every 30 seconds.
// Pure: rendered from a metrics snapshot.
#include "cache/cache_admin.hpp"
#include "proxy/ops/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::ops {

struct StatusPageInput {
  MetricsSnapshot metrics;    // with cache figures (when caching is on) and the top images
  std::string version;
  std::string proxy_address;  // host[:port] the browser used (its Host header); may be empty
  std::optional<cache::CachedTags> cached_tags;  // nullopt: caching is off
  cache::Timestamp now{};
};

std::string render_status_page(const StatusPageInput& input);

// Helpers, exposed for tests.
std::string html_escape(std::string_view text);
std::string format_percent(std::optional<double> ratio);  // "87.5%", or "n/a"
std::string group_digits(std::uint64_t n);                 // "1,234,567"
std::string format_uptime(std::chrono::seconds uptime);    // "2d 3h 4m", "5m 6s"

}  // namespace pt::ops
