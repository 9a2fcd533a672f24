#include "proxy/access_log.hpp"

#include "common/logging.hpp"
#include "proxy/metrics.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pt {

void log_access(const AccessRecord& r) {
  metrics().record_request(r);  // every request passes here once: the one place it is counted
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  nlohmann::ordered_json fields = {
      {"session", r.session}, {"client", r.client}, {"host", r.host},   {"method", r.method},
      {"path", r.path},       {"status", r.status}, {"bytes", r.bytes}, {"duration_ms", std::round(ms * 10) / 10},
      {"cache", r.cache},
  };
  if (!r.error.empty()) fields["error"] = r.error;
  log_event("request", fields);
}

std::string peer_text(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().is_v6() ? fmt::format("[{}]:{}", ep.address().to_string(), ep.port())
                              : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace pt
