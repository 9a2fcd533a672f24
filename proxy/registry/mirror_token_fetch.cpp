#include "proxy/registry/mirror_token_fetch.hpp"

#include "auth/credential_policy.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/upstream_connection.hpp"

#include <fmt/format.h>

namespace pt::registry {
namespace {

constexpr std::size_t max_token_response = 256 * 1024;  // JWTs are a few KiB

}  // namespace

asio::awaitable<TokenFetch> fetch_token(const BearerChallenge& challenge, const http::Origin& registry, Dependencies& deps,
                                        Deadline& deadline, bool lend_credentials) {
  const auto& config = deps.settings;
  // The realm must be an absolute https URL: the same rule as for redirects.
  const auto realm = http::redirect_target(challenge.realm, registry);
  if (!realm || !challenge.realm.starts_with("https://")) {
    co_return TokenFetch{.error = "the registry's token realm is not an https URL"};
  }
  http::RequestHead get;
  get.method = "GET";
  get.target = realm->target;
  if (const auto query = token_query(challenge); !query.empty()) {
    get.target += (get.target.find('?') == std::string::npos ? "?" : "&") + query;
  }
  get.headers.add("Host", realm->origin.authority());
  get.headers.add("User-Agent", "pullthrough-mirror");
  get.headers.add("Accept", "application/json");
  std::optional<std::string> authorization;
  if (lend_credentials) {
    authorization = auth::authorization_to_inject(deps.credentials, realm->origin.host, realm->origin.port, false);
  }
  if (!authorization && lend_credentials) {
    authorization = auth::authorization_to_inject(deps.credentials, registry.host, registry.port, false);
  }
  if (authorization) get.headers.add("Authorization", *authorization);

  net::UpstreamConnection connection(deps.upstream_tls, deps.resolve);
  deadline.expires_after(config.connect_timeout);
  if (auto failure = co_await connection.open(realm->origin.host, realm->origin.port)) {
    co_return TokenFetch{.error = "token endpoint " + realm->origin.authority() + ": " + failure->message};
  }
  deadline.expires_after(config.upstream_idle_timeout);
  if (auto ec = co_await http::write_all(connection.stream(), http::serialize(get))) {
    co_return TokenFetch{.error = "token request failed: " + ec.message()};
  }
  http::Parser parser(http::Parser::Kind::response, {.max_head_bytes = config.max_header_bytes});
  parser.expect_response_to("GET");
  std::error_code ec;
  if (co_await http::read_head(connection.stream(), connection.buffer(), parser, ec) != http::HeadStatus::ok) {
    co_return TokenFetch{.error = "no answer from the token endpoint " + realm->origin.authority()};
  }
  std::string body;
  bool too_large = false;
  auto body_ec = co_await http::read_body(connection.stream(), connection.buffer(), parser, deadline,
                                    config.upstream_idle_timeout,
                                    [&](std::string_view piece) -> asio::awaitable<std::error_code> {
                                      if (body.size() + piece.size() > max_token_response) {
                                        too_large = true;
                                        co_return std::make_error_code(std::errc::message_size);
                                      }
                                      body.append(piece);
                                      co_return std::error_code{};
                                    });
  connection.close();
  const int status = parser.response().status;
  if (too_large) co_return TokenFetch{.error = "the token endpoint's answer is too large"};
  if (body_ec) co_return TokenFetch{.error = "token response failed: " + body_ec.message()};
  if (status != 200) {
    co_return TokenFetch{.error = fmt::format("the token endpoint {} answered {}{}", realm->origin.authority(), status,
                                              authorization ? " (with the configured credentials)" : "")};
  }
  auto issued = parse_token_response(body);
  if (!issued) co_return TokenFetch{.error = "the token endpoint's answer holds no token"};
  co_return TokenFetch{.token = std::move(issued)};
}

}  // namespace pt::registry
