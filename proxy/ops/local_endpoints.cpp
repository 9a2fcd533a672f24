#include "proxy/ops/local_endpoints.hpp"

#include "ca/root_ca.hpp"
#include "common/run_blocking.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/ops/admin_api.hpp"
#include "proxy/ops/metrics.hpp"
#include "proxy/ops/prometheus_text.hpp"
#include "proxy/ops/setup_scripts.hpp"
#include "proxy/ops/status_page.hpp"

#include <fmt/format.h>

namespace pt::ops {
namespace {

http::LocalResponse text(int status, std::string body) {
  http::LocalResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

http::LocalResponse answer_locally(const http::RequestHead& request, const Dependencies& deps,
                                   std::optional<cache::CachedTags> cached_tags) {
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
  const std::string path = http::path_of(request.target);
  if (path == "/ca.crt") {
    http::LocalResponse r;
    r.content_type = "application/x-pem-file";
    r.body = deps.root_ca.cert_pem();
    r.extra_headers.add("Content-Disposition", "attachment; filename=\"ca.crt\"");
    return r;
  }
  if (path == "/healthz") {
    if (!deps.serving) return text(503, "starting\n");
    return text(200, "ok\n");
  }
  if (path == "/metrics") {
    http::LocalResponse r;
    r.content_type = std::string(prometheus::kContentType);
    r.body = render_prometheus(current_metrics(deps.metrics, deps.cache, 0, deps.members, deps.object_store), pullthrough_version());
    return r;
  }
  if (path == "/") {
    http::LocalResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = render_status_page({.metrics = current_metrics(deps.metrics, deps.cache, 20, deps.members, deps.object_store),
                                 .version = std::string(pullthrough_version()),
                                 .proxy_address = std::string(request.headers.get("Host").value_or("")),
                                 .cached_tags = std::move(cached_tags),
                                 .now = cache::now_timestamp()});
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

asio::awaitable<std::optional<bool>> LocalEndpoints::exchange(const http::RequestHead& request,
                                                             const asio::ip::address& client,
                                                             front::LocalExchange& io) {
  if (!request.target.starts_with('/') || http::path_of(request.target) != "/admin/warm") co_return std::nullopt;
  if (auto refusal = admin_refusal(request, deps_, client)) {
    // Unread, a request body would be taken for the next request: the connection closes.
    const auto bytes = http::render(*refusal, false, request.method == "HEAD");
    co_await io.write(bytes);
    co_return false;
  }
  co_return co_await warm_.serve(request, io);
}

asio::awaitable<http::LocalResponse> LocalEndpoints::answer(const http::RequestHead& request,
                                                            const asio::ip::address& client) {
  if (auto admin = co_await answer_admin(request, deps_, client)) co_return std::move(*admin);
  std::optional<cache::CachedTags> tags;
  if (deps_.cache && request.method == "GET" && request.target.starts_with('/') && http::path_of(request.target) == "/") {
    // The status page lists the cached tags: an index scan, off the I/O threads.
    auto* store = deps_.cache;
    tags = co_await run_blocking(deps_.blocking, [store] { return cache::recent_tags(store->index(), 20); });
  }
  co_return answer_locally(request, deps_, std::move(tags));
}

}  // namespace pt::ops
