// The registry-mirror parts of a Session: each request names its registry (mirror_route.hpp),
// and the proxy answers the registry's Bearer challenges itself, since the mirror's client was told
// (by the mirror's own "/v2/" answer) that no authentication is needed.
#include "auth/registry_matcher.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/registry/mirror_context.hpp"
#include "proxy/registry/mirror_token_fetch.hpp"
#include "proxy/registry/session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::registry {

asio::awaitable<std::optional<bool>> Session::route_mirror_request(AccessRecord& record) {
  auto& request = parser_.request();
  const std::string target = http::origin_form(request.target);
  record.method = request.method;
  record.path = http::path_of(target);
  // A request body we do not read would be misread as the next request.
  const bool keep_alive = request.keep_alive && request.framing == http::BodyFraming::none;
  const auto route = registry::route_mirror_request(target, mirror_->default_registry);

  auto answer = [&](int status, std::string_view code, std::string message) -> asio::awaitable<std::optional<bool>> {
    record.cache = CacheStatus::local;
    if (status >= 400) record.error = message;
    http::Headers headers;
    headers.add("Docker-Distribution-Api-Version", "registry/2.0");
    const auto body = status == 200 ? std::string("{}") : registry_error_json(code, message);
    co_return co_await reply(record, status, body, keep_alive, std::move(headers), "application/json");
  };

  switch (route.kind) {
    case MirrorRoute::Kind::ping:
      // The mirror is the registry for its clients, and one that needs no login: tokens for the
      // real registry are the proxy's business (exchange_with_token).
      record.host = "mirror";
      co_return co_await answer(200, "", "");
    case MirrorRoute::Kind::not_found:
      record.host = "mirror";
      co_return co_await answer(404, "NOT_FOUND", route.error);
    case MirrorRoute::Kind::bad_name:
      record.host = "mirror";
      co_return co_await answer(400, "NAME_INVALID", route.error);
    case MirrorRoute::Kind::registry:
      break;
  }

  const auto& registry = route.registry;
  record.host = registry.authority();
  // Only registries the proxy would intercept (Docker Hub always): the mirror is no open relay.
  if (!deps_.registries.intercepts(registry.host, registry.port)) {
    co_return co_await answer(403, "DENIED",
                              fmt::format("registry {} is not served by this mirror (REGISTRIES)", registry.authority()));
  }
  route_ = Route{.registry = {registry.host, registry.port}, .token_scope = route.repository};
  request.target = route.target;
  request.headers.set("Host", registry.authority());
  co_return std::nullopt;
}

asio::awaitable<Session::Exchange> Session::exchange_with_token(const http::Origin& origin, const std::string& scope,
                                                                TokenCache& tokens, http::RequestHead head,
                                                                http::Parser& response) {
  const std::string registry = origin.authority();
  const auto cached = tokens.find(registry, scope, TokenCache::clock::now());
  if (cached) head.headers.set("Authorization", "Bearer " + *cached);

  auto outcome = co_await exchange(upstream_, origin, head, false, response);
  if (!outcome.ok || response.response().status != 401) co_return outcome;
  std::optional<BearerChallenge> challenge;
  for (const auto& field : response.response().headers) {
    if (http::iequals(field.name, "WWW-Authenticate") && !challenge) challenge = parse_bearer_challenge(field.value);
  }
  // Not a token registry (Basic: the injected credentials were refused): the client gets the 401.
  if (!challenge) co_return outcome;
  if (cached) tokens.forget(registry, scope);

  // The 401's body is read off so the connection can carry the retry.
  const auto drained = co_await http::read_body(upstream_.stream(), upstream_.buffer(), response, deadline_,
                                          settings_.upstream_idle_timeout,
                                          [](std::string_view) -> asio::awaitable<std::error_code> {
                                            co_return std::error_code{};
                                          });
  if (drained || !response.response().keep_alive) upstream_.close();

  // CACHE_AUTH_MODE=verify: anonymous tokens only, so a client is granted no more than it could get itself.
  const auto fetched = co_await fetch_token(*challenge, origin, deps_, deadline_, !verifies_access());
  if (!fetched.token) {
    spdlog::warn("session {}: no token for {} {}: {}", info_.id, registry, scope, fetched.error);
    co_return Exchange{.error = "cannot get a token for " + registry + ": " + fetched.error};
  }
  tokens.store(registry, scope, *fetched.token, TokenCache::clock::now());
  head.headers.set("Authorization", "Bearer " + fetched.token->token);
  // Whatever the registry says now goes to the client, its challenge included: a client holding
  // its own credentials may still fetch a token from the realm and send it (relayed untouched).
  co_return co_await exchange(upstream_, origin, head, false, response);
}

}  // namespace pt::registry
