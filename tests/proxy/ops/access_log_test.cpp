#include "proxy/ops/access_log.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

using namespace pt;
using namespace pt::ops;
using namespace std::chrono_literals;

namespace {

// Captures what log_access writes (the message only, without spdlog's time and level prefix) and
// puts the previous default logger back afterwards.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(out_));
    logger->set_pattern("%v");
    spdlog::set_default_logger(std::move(logger));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

registry::AccessRecord head_hit() {
  return registry::AccessRecord{.session = 7,
                      .client = "10.1.2.3:40000",
                      .host = "registry.test:5000",
                      .method = "HEAD",
                      .path = "/v2/library/app/manifests/1.0",
                      .status = 200,
                      .bytes = 0,
                      .duration = 1530us,
                      .cache = registry::CacheStatus::hit};
}

}  // namespace

TEST_CASE("log_access writes one key=value line per request") {
  CapturedLog log;
  log_access(head_hit());
  CHECK(log.text() ==
        "request session=7 client=10.1.2.3:40000 host=registry.test:5000 method=HEAD "
        "path=/v2/library/app/manifests/1.0 status=200 bytes=0 duration_ms=1.5 cache=HIT\n");
}

TEST_CASE("log_access quotes values with spaces, quotes or '=' and adds the error when there is one") {
  CapturedLog log;
  auto record = head_hit();
  record.method = "GET";
  record.path = "/v2/a b/blobs/x=y";
  record.status = 502;
  record.bytes = 18446744073709551615ULL;
  record.duration = 12'345'678us;
  record.cache = registry::CacheStatus::miss;
  record.error = "upstream said \"no\"";
  log_access(record);
  CHECK(log.text() ==
        "request session=7 client=10.1.2.3:40000 host=registry.test:5000 method=GET "
        "path=\"/v2/a b/blobs/x=y\" status=502 bytes=18446744073709551615 duration_ms=12345.7 cache=MISS "
        "error=\"upstream said \\\"no\\\"\"\n");
}

TEST_CASE("log_access rounds the duration to a tenth of a millisecond") {
  CapturedLog log;
  auto record = head_hit();
  record.duration = 40us;
  log_access(record);
  record.duration = 0us;
  log_access(record);
  record.duration = 99'960us;
  log_access(record);
  const auto text = log.text();
  CHECK(text.find(" duration_ms=0.0 cache=HIT\n") != std::string::npos);
  CHECK(text.find(" duration_ms=100.0 cache=HIT\n") != std::string::npos);
}

TEST_CASE("log_access names the REGISTRY_MIRRORS upstream that answered, before the error") {
  CapturedLog log;
  auto record = head_hit();
  record.upstream = "mirror.test:5000/proxy-cache";
  record.error = "not cached";
  log_access(record);
  CHECK(log.text().ends_with(" cache=HIT upstream=mirror.test:5000/proxy-cache error=\"not cached\"\n"));
}
