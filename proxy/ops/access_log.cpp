#include "proxy/ops/access_log.hpp"

#include "common/logging.hpp"
#include "proxy/ops/metrics.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>

namespace pt::ops {

void AccessLog::request_done(const registry::AccessRecord& record) {
  metrics_.record_request(record);
  log_access(record);
}

void AccessLog::upstream_latency(std::chrono::steady_clock::duration elapsed) {
  metrics_.observe_upstream_latency(elapsed);
}

void AccessLog::peer_failed(std::string_view member) {
  (void)member;  // the session logs which one, once per failure streak
  metrics_.record_peer_failure();
}

void log_access(const registry::AccessRecord& r) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  if (current_log_format() == LogFormat::json) {
    nlohmann::ordered_json fields = {
        {"session", r.session}, {"client", r.client}, {"host", r.host},   {"method", r.method},
        {"path", r.path},       {"status", r.status}, {"bytes", r.bytes}, {"duration_ms", std::round(ms * 10) / 10},
        {"cache", registry::to_string(r.cache)},
    };
    if (!r.upstream.empty()) fields["upstream"] = r.upstream;
    if (!r.peer.empty()) fields["peer"] = r.peer;
    if (r.for_peer) fields["for_peer"] = true;
    if (!r.error.empty()) fields["error"] = r.error;
    log_event("request", fields);
    return;
  }
  // The hot path (a line per request): the same text log_event writes, without a JSON object.
  std::string line = "request";
  line.reserve(256);
  append_text_field(line, "session", r.session);
  append_text_field(line, "client", r.client);
  append_text_field(line, "host", r.host);
  append_text_field(line, "method", r.method);
  append_text_field(line, "path", r.path);
  append_text_field(line, "status", static_cast<std::uint64_t>(r.status));
  append_text_field(line, "bytes", r.bytes);
  char duration[48];
  line.append(duration, fmt::format_to_n(duration, sizeof duration, " duration_ms={:.1f}", ms).out);
  append_text_field(line, "cache", registry::to_string(r.cache));
  if (!r.upstream.empty()) append_text_field(line, "upstream", r.upstream);
  if (!r.peer.empty()) append_text_field(line, "peer", r.peer);
  if (r.for_peer) append_text_field(line, "for_peer", std::string_view("1"));
  if (!r.error.empty()) append_text_field(line, "error", r.error);
  spdlog::default_logger_raw()->log(spdlog::level::info, spdlog::string_view_t(line));  // no "{}" to format
}

}  // namespace pt::ops
