#include "proxy/ops/status_page.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using namespace pt::ops;
using namespace std::chrono_literals;

namespace {

MetricsSnapshot sample_metrics() {
  MetricsSnapshot s;
  s.requests = {{.status = 200, .cache = registry::CacheStatus::hit, .count = 3},
                {.status = 200, .cache = registry::CacheStatus::miss, .count = 1},
                {.status = 200, .cache = registry::CacheStatus::bypass, .count = 7}};
  s.bytes_from_cache = 3 * 1024 * 1024;
  s.bytes_from_upstream = 1234567;
  s.top_images = {{.image = "registry.test:5000/library/app", .from_cache = 3145728, .from_upstream = 1234567,
                   .requests = 4},
                  {.image = "evil.test/<script>alert(1)</script>", .from_cache = 0, .from_upstream = 1,
                   .requests = 1}};
  s.images_tracked = 2;
  s.uptime = 3725s;
  s.cache = CacheFigures{.bytes = 512 * 1024, .max_bytes = 1024 * 1024, .files = 4, .entries = 5,
                         .fills_in_flight = 1, .evicted_files = 2, .evicted_bytes = 2048};
  return s;
}

}  // namespace

TEST_CASE("html_escape neutralises markup and control characters") {
  CHECK(html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(html_escape(std::string("x\x01y", 3)) == "x&#xFFFD;y");
  CHECK(html_escape("plain") == "plain");
}

TEST_CASE("figures are formatted for people") {
  CHECK(format_percent(std::nullopt) == "n/a");
  CHECK(format_percent(0.75) == "75.0%");
  CHECK(format_percent(1.0) == "100.0%");
  CHECK(format_percent(2.0 / 3) == "66.7%");
  CHECK(group_digits(0) == "0");
  CHECK(group_digits(999) == "999");
  CHECK(group_digits(1000) == "1,000");
  CHECK(group_digits(1234567) == "1,234,567");
  CHECK(format_uptime(5s) == "5s");
  CHECK(format_uptime(125s) == "2m 5s");
  CHECK(format_uptime(3725s) == "1h 2m");
  CHECK(format_uptime(90061s) == "1d 1h 1m");
  CHECK(format_uptime(-3s) == "0s");
}

TEST_CASE("the status page shows the figures, top images, and how to set up a client") {
  const auto html = render_status_page({.metrics = sample_metrics(), .version = "0.1.0",
                                        .proxy_address = "proxy.lan:3128"});
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(html.find("<meta http-equiv=\"refresh\"") != std::string::npos);
  CHECK(html.find("id=\"hit-ratio\">75.0%<") != std::string::npos);
  CHECK(html.find("id=\"bytes-saved\">3.0 MiB<") != std::string::npos);
  CHECK(html.find("id=\"bytes-from-cache\">3,145,728<") != std::string::npos);
  CHECK(html.find("id=\"bytes-from-upstream\">1,234,567<") != std::string::npos);
  CHECK(html.find("id=\"cache-use\">50.0%<") != std::string::npos);
  CHECK(html.find("id=\"cache-entries\">5<") != std::string::npos);
  CHECK(html.find("width:50.0%") != std::string::npos);
  CHECK(html.find("registry.test:5000/library/app") != std::string::npos);
  CHECK(html.find("id=\"version\">0.1.0<") != std::string::npos);
  CHECK(html.find("id=\"uptime\">1h 2m<") != std::string::npos);
  CHECK(html.find("href=\"/ca.crt\"") != std::string::npos);
  CHECK(html.find("href=\"/setup/systemd\"") != std::string::npos);
  CHECK(html.find("HTTPS_PROXY=http://proxy.lan:3128/") != std::string::npos);
  CHECK(html.find("curl -fsSL http://proxy.lan:3128/setup/systemd | sh") != std::string::npos);
  // Nothing from outside becomes markup, and the page needs nothing from elsewhere.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  for (auto at = html.find("href=\""); at != std::string::npos; at = html.find("href=\"", at + 1)) {
    const auto link = html.substr(at + 6, html.find('"', at + 6) - at - 6);
    INFO(link);
    CHECK((link.starts_with("/") || link == "data:,"));  // the proxy's own pages only
  }
}

TEST_CASE("an odd Host header is not pasted into the setup commands") {
  const auto html = render_status_page({.metrics = sample_metrics(), .version = "0.1.0",
                                        .proxy_address = "x\"; rm -rf / #"});
  CHECK(html.find("rm -rf") == std::string::npos);
  CHECK(html.find("HTTPS_PROXY=http://proxy.example:3128/") != std::string::npos);
}

TEST_CASE("a fresh proxy's page says there is nothing yet") {
  MetricsSnapshot empty;
  const auto html = render_status_page({.metrics = empty, .version = "0.1.0", .proxy_address = ""});
  CHECK(html.find("id=\"hit-ratio\">n/a<") != std::string::npos);
  CHECK(html.find("No image pulled through the proxy yet.") != std::string::npos);
  CHECK(html.find("caching is disabled") != std::string::npos);
}
