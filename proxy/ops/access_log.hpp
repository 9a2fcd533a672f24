#pragma once
// The access log: one line per request handled (and per tunnel or refusal): who asked for what,
// what came back, how big, how long, and where it was served from. AccessLog is what the sessions
// are handed as their RequestObserver: it writes the line and feeds the metrics, so every request
// is counted in the one place it is logged.
#include "proxy/ops/metrics.hpp"
#include "proxy/registry/access_record.hpp"

namespace pt::ops {

// Writes the record's line at info level (text or JSON, as LOG_FORMAT says).
void log_access(const registry::AccessRecord& record);

class AccessLog final : public registry::RequestObserver {
public:
  explicit AccessLog(Metrics& metrics) : metrics_(metrics) {}

  void request_done(const registry::AccessRecord& record) override;
  void upstream_latency(std::chrono::steady_clock::duration elapsed) override;
  void peer_failed(std::string_view member) override;

private:
  Metrics& metrics_;
};

}  // namespace pt::ops
