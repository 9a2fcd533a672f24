#include "proxy/local_endpoints.hpp"

#include "ca/root_ca.hpp"
#include "proxy/access_log.hpp"
#include "proxy/metrics.hpp"
#include "proxy/prometheus_text.hpp"
#include "proxy/services.hpp"
#include "proxy/setup_scripts.hpp"
#include "proxy/status_page.hpp"

#include <fmt/format.h>

namespace pt {
namespace {

LocalResponse text(int status, std::string body) {
  LocalResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

LocalResponse answer_locally(const http::RequestHead& request, const Services& services) {
  if (!request.target.starts_with('/')) {
    // Absolute-form: a client using us as a plain HTTP proxy. We only intercept HTTPS registries.
    return text(403, "pullthrough forwards HTTPS only: set HTTPS_PROXY (not only HTTP_PROXY) to this proxy, "
                     "and list plain-HTTP hosts in NO_PROXY.\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = text(405, fmt::format("{} is not supported here; use GET.\n", request.method));
    r.extra_headers.add("Allow", "GET, HEAD");
    return r;
  }
  const std::string path = path_of(request.target);
  if (path == "/ca.crt") {
    LocalResponse r;
    r.content_type = "application/x-pem-file";
    r.body = services.root_ca.cert_pem();
    r.extra_headers.add("Content-Disposition", "attachment; filename=\"ca.crt\"");
    return r;
  }
  if (path == "/healthz") {
    if (!services.serving) return text(503, "starting\n");
    return text(200, "ok\n");
  }
  if (path == "/metrics") {
    LocalResponse r;
    r.content_type = std::string(prometheus::kContentType);
    r.body = render_prometheus(current_metrics(services.cache, 0), pullthrough_version());
    return r;
  }
  if (path == "/") {
    LocalResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = render_status_page({.metrics = current_metrics(services.cache, 20),
                                 .version = std::string(pullthrough_version()),
                                 .proxy_address = std::string(request.headers.get("Host").value_or(""))});
    r.extra_headers.add("Cache-Control", "no-store");
    return r;
  }
  if (path.starts_with("/setup/")) {
    // Host set-up scripts (scripts/setup/) defaulting to this proxy as the client reached it.
    const auto host = request.headers.get("Host").value_or("");
    if (!is_safe_host(host)) return text(400, "pullthrough: /setup/ needs a Host header of the form host[:port].\n");
    auto script = render_setup_script(std::string_view(path).substr(7), host);
    if (!script) return text(404, fmt::format("pullthrough: no set-up script '{}'. Try /setup/systemd or /setup/containerd.\n", path));
    return text(200, std::move(*script));
  }
  return text(404, fmt::format("pullthrough: no such endpoint '{}'. Try /ca.crt or /healthz.\n", path));
}

std::string render(const LocalResponse& response, bool keep_alive, bool head_only) {
  http::ResponseHead head;
  head.status = response.status;
  head.reason = std::string(http::reason_phrase(response.status));
  head.headers.add("Content-Type", response.content_type);
  head.headers.add("Content-Length", std::to_string(response.body.size()));
  for (const auto& h : response.extra_headers) head.headers.add(h.name, h.value);
  head.headers.add("Connection", keep_alive ? "keep-alive" : "close");
  std::string out = http::serialize(head);
  if (!head_only) out += response.body;
  return out;
}

}  // namespace pt
