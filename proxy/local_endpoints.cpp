#include "proxy/local_endpoints.hpp"

#include "ca/root_ca.hpp"
#include "proxy/access_log.hpp"
#include "proxy/services.hpp"

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
