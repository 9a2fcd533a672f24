// CACHE_AUTH_MODE=verify: before a cached manifest or blob of a registry that wants it is served,
// the registry is asked, with the client's own credentials, whether the client may read that
// repository: a HEAD of the very manifest or blob requested. The answer is remembered briefly per
// credential and repository (auth/access_verdicts.hpp), so a pull costs one such check.
#include "auth/access_verdicts.hpp"
#include "auth/cache_auth_mode.hpp"
#include "proxy/registry/session.hpp"

#include <spdlog/spdlog.h>

namespace pt::registry {

bool Session::verifies_access() const {
  return deps_.cache_auth && deps_.verdicts &&
         deps_.cache_auth->mode_for(route_.registry.host, route_.registry.port) == auth::CacheAuthMode::verify;
}

asio::awaitable<Session::Access> Session::verify_client_access(AccessRecord& record,
                                                                        const cache::RegistryRequest& classified) {
  const http::RequestHead& request = parser_.request();
  // No Authorization is a credential too: anonymous access, which public repositories grant.
  const std::string authorization(request.headers.get("Authorization").value_or(""));
  const std::string registry = route_.registry.authority();
  if (deps_.verdicts->accepted(authorization, registry, classified.repository)) co_return Access::allowed;

  http::RequestHead head = http::upstream_request(request, std::nullopt);  // the client's own credentials only
  head.method = "HEAD";
  http::Parser response(http::Parser::Kind::response, {.max_head_bytes = settings_.max_header_bytes});
  const auto outcome = co_await exchange(head, false, response);
  if (!outcome.ok) {
    record.error = "cannot verify access: " + outcome.error;
    co_return Access::unverifiable;
  }
  const int status = response.response().status;
  if (!response.response().keep_alive) upstream_.close();
  // 2xx, or a redirect to where a blob lives: the registry accepted the credentials.
  if (status < 400) {
    deps_.verdicts->remember(authorization, registry, classified.repository);
    co_return Access::allowed;
  }
  if (status >= 500 || status == 429) {
    record.error = "cannot verify access: upstream answered " + std::to_string(status);
    co_return Access::unverifiable;
  }
  spdlog::debug("session {}: {} refused the client's credentials for {} ({})", info_.id, registry,
                classified.repository, status);
  co_return Access::denied;
}

}  // namespace pt::registry
