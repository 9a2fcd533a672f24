#include "proxy/registry/session.hpp"

#include "proxy/registry/mirror_context.hpp"
#include "proxy/registry/object_store.hpp"

#include "auth/credential_policy.hpp"
#include "cache/cache_key.hpp"
#include "cache/manifest_negotiation.hpp"
#include "cache/registry_policy.hpp"
#include "cluster/owner_key.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/http/holdback_writer.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/http/message_io.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace pt::registry {
namespace {

// A peer's response head within `limit`, else an I/O error (the connection is closed).
asio::awaitable<http::HeadStatus> read_head_within(net::UpstreamConnection& connection, http::Parser& response,
                                                   std::error_code& ec, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(limit);
  auto raced = co_await (http::read_head(connection.stream(), connection.buffer(), response, ec) ||
                         timer.async_wait(asio::use_awaitable));
  if (raced.index() == 0) co_return std::get<0>(raced);
  connection.close();
  ec = std::make_error_code(std::errc::timed_out);
  co_return http::HeadStatus::io_error;
}

int status_for(http::ParseError error) {
  switch (error) {
    case http::ParseError::head_too_large: return 431;
    case http::ParseError::unsupported: return 501;
    default: return 400;
  }
}

}  // namespace

Session::Session(net::ClientStream client, Dependencies& deps, Deadline& deadline, SessionInfo info,
                 MirrorContext* mirror)
    : client_(client),
      deps_(deps),
      settings_(deps.settings),
      deadline_(deadline),
      info_(std::move(info)),
      mirror_(mirror),
      route_{.registry = {info_.host, info_.port}},
      parser_(http::Parser::Kind::request, {.max_head_bytes = deps.settings.max_header_bytes}),
      upstream_(deps.upstream_tls, deps.resolve) {
  if (info_.own_listener) upstream_.refuse_endpoint(*info_.own_listener);
}

asio::awaitable<void> Session::run() {
  const auto& config = settings_;
  for (;;) {
    if (Deadline::draining()) break;
    // Waiting for the next request: a graceful shutdown may close us here.
    deadline_.set_idle(true);
    deadline_.expires_after(config.client_idle_timeout);
    if (buffer_.empty() && co_await http::read_when_ready(client_, buffer_, http::head_read_size)) break;
    deadline_.set_idle(false);
    // From the first byte, the whole head must arrive within the header timeout (slowloris).
    deadline_.expires_after(config.header_timeout);

    AccessRecord record{.session = info_.id, .client = info_.client, .host = info_.authority()};
    const auto started = std::chrono::steady_clock::now();
    parser_.reset();
    std::error_code ec;
    const auto status = co_await http::read_head(client_, buffer_, parser_, ec);
    if (status == http::HeadStatus::closed || status == http::HeadStatus::io_error) break;

    bool keep_going = false;
    if (status == http::HeadStatus::parse_error) {
      record.error = "bad request: " + parser_.error_text();
      co_await reply(record, status_for(parser_.error()), record.error + "\n", false);
    } else if (auto answered = co_await route(record)) {
      keep_going = *answered;
    } else {
      keep_going = co_await serve(record);
    }
    record.duration = std::chrono::steady_clock::now() - started;
    deps_.observer.request_done(record);
    if (!keep_going) break;
  }
  upstream_.close();
  if (peer_) peer_->close();  // cut mid-answer, or never returned: not reusable
}

asio::awaitable<std::optional<bool>> Session::route(AccessRecord& record) {
  // Otherwise every request goes to the connection's registry (route_ as constructed).
  if (info_.from_peer) co_return co_await route_peer_request(record);
  if (mirror_) co_return co_await route_mirror_request(record);
  co_return std::nullopt;
}

asio::awaitable<bool> Session::serve(AccessRecord& record) {
  const auto& request = parser_.request();
  const std::string target = http::origin_form(request.target);
  record.method = request.method;
  record.path = http::path_of(target);
  record.request = cache::classify_request(request.method, target);
  const auto& classified = record.request;

  // REGISTRY_POLICY: a denied repository is neither fetched nor served from the cache.
  std::optional<cache::PolicyDenial> denied;
  if (deps_.registry_policy) denied = deps_.registry_policy->check(cache_registry(), classified);
  if (denied) {
    record.cache = CacheStatus::bypass;
    record.error = "denied by REGISTRY_POLICY: " + denied->rule;
    http::Headers headers;
    headers.add("Docker-Distribution-Api-Version", "registry/2.0");
    co_return co_await reply(record, 403, cache::registry_error_body("DENIED", denied->message),
                             request.keep_alive && request.framing == http::BodyFraming::none, std::move(headers),
                             "application/json");
  }

  const auto key = deps_.cache ? cache::cache_key(classified, cache_registry()) : std::nullopt;
  // Offline, what the cache cannot hold is refused here (the ping is answered in forward()).
  if (settings_.offline && !key && classified.kind != cache::RequestKind::ping) {
    record.cache = CacheStatus::bypass;
    co_return co_await reply_offline(record, classified);
  }
  // Writes to the registry API are pushes; a POST elsewhere (Docker's OAuth token request) is not.
  const bool push = classified.kind == cache::RequestKind::push && record.path.starts_with("/v2/");
  if (push && !settings_.allow_push) {
    record.cache = CacheStatus::bypass;
    // The body is not read, so the connection cannot be reused.
    co_return co_await reply(record, 405,
                             "pullthrough: pushing through this proxy is disabled (ALLOW_PUSH=false)\n", false);
  }
  if (key && request.framing == http::BodyFraming::none && deps_.cluster && !info_.from_peer) {
    // PEERS: cached content has one owner in the cluster, so it is fetched and stored once.
    if (auto owner = cluster::owner_key(classified, cache_registry())) {
      auto answered = co_await serve_via_owner(record, classified, *owner);
      if (answered) co_return *answered;
    }
  }
  if (key && request.framing == http::BodyFraming::none) co_return co_await serve_cacheable(record, classified, *key);
  record.cache = CacheStatus::bypass;
  co_return co_await forward(record, classified);
}

std::optional<std::string> Session::injected_authorization() const {
  // In verify mode the client's own credentials are what is checked: never lend it ours.
  if (verifies_access()) return std::nullopt;
  return auth::authorization_to_inject(deps_.credentials, route_.registry.host, route_.registry.port,
                                       parser_.request().headers.contains("Authorization"));
}

std::string Session::cache_registry() const {
  return cache::registry_authority(route_.registry.host, route_.registry.port);
}

std::string Session::client_accept() const {
  return fmt::format("{}", fmt::join(parser_.request().headers.list_items("Accept"), ", "));
}

asio::awaitable<bool> Session::forward(AccessRecord& record, const cache::RegistryRequest& classified,
                                       const TagFill* learn, Upstreams upstreams) {
  const http::RequestHead& request = parser_.request();
  const bool has_body = request.framing != http::BodyFraming::none;
  http::Parser response(http::Parser::Kind::response, {.max_head_bytes = settings_.max_header_bytes});
  const http::RequestHead head = http::upstream_request(request, injected_authorization());
  Exchange outcome;
  if (!has_body && upstreams == Upstreams::fallbacks) {
    outcome = co_await fetch(record, classified, head, response);
  } else {
    outcome = co_await exchange(head, has_body, response);
  }
  if (outcome.ok && learn && classified.is_head) co_await learn_tag_variant(classified, response.response(), *learn);
  if (outcome.ok) co_return co_await relay_response(record, response);

  record.error = outcome.error;
  const bool has_fallbacks =
      deps_.fallbacks && deps_.fallbacks->chains.chain_for(route_.registry.host, route_.registry.port);
  if (outcome.unreachable && classified.kind == cache::RequestKind::ping && (deps_.cache || has_fallbacks)) {
    // Offline: answer the version check ourselves, so the client goes on to ask for manifests and
    // blobs (which the cache or the registry's REGISTRY_MIRRORS may hold) instead of looking for
    // a token it cannot get.
    http::Headers headers;
    headers.add("Docker-Distribution-Api-Version", "registry/2.0");
    record.cache = CacheStatus::stale;
    co_return co_await reply(record, 200, "{}", request.keep_alive, std::move(headers), "application/json");
  }
  if (settings_.offline) co_return co_await reply_offline(record, classified);
  spdlog::warn("session {}: {} {}{}: {}", info_.id, request.method, route_.registry.authority(), record.path, outcome.error);
  co_return co_await reply(record, 502, "pullthrough: " + outcome.error + "\n", request.keep_alive && !has_body);
}

asio::awaitable<Session::Exchange> Session::exchange(const http::RequestHead& head, bool with_client_body,
                                                             http::Parser& response) {
  // The client's own Authorization (a docker login on the mirror) is relayed untouched; a request
  // with a body (a push) cannot be sent twice.
  if (route_.token_scope && !with_client_body && !parser_.request().headers.contains("Authorization")) {
    co_return co_await exchange_with_token(route_.registry, *route_.token_scope, mirror_->tokens, head, response);
  }
  // A member, not a temporary: the coroutine keeps a reference to it.
  co_return co_await exchange(upstream_, route_.registry, head, with_client_body, response);
}

asio::awaitable<Session::Exchange> Session::exchange(net::UpstreamConnection& connection, const http::Origin& origin,
                                                             const http::RequestHead& head, bool with_client_body,
                                                             http::Parser& response, Hop hop) {
  const auto& config = settings_;
  const http::RequestHead& request = parser_.request();
  const std::string head_bytes = http::serialize(head);
  const auto started = std::chrono::steady_clock::now();  // upstream latency, connecting included

  // OFFLINE: every upstream request ends here, so none can leave the host (not even a lookup).
  if (config.offline && hop == Hop::upstream) co_return Exchange{.unreachable = true, .error = "the proxy is offline (OFFLINE=true)"};

  // A kept-alive upstream connection may have been closed by the server meanwhile; a request
  // without a body is then sent once more on a fresh connection.
  // The bucket may be an http:// endpoint; everything else is TLS.
  const auto transport = hop == Hop::store ? deps_.object_store->transport() : net::Transport::tls;
  for (int attempt = 0;; ++attempt) {
    if (!connection.is_for(origin.host, origin.port, transport)) {
      std::optional<net::UpstreamFailure> failure;
      if (hop != Hop::upstream) {
        // A peer or the bucket failing moves the request on (next candidate, upstream): their
        // connect has a timer of its own, so the session's deadline never ends the client's pull.
        const auto limit = hop == Hop::peer ? deps_.cluster->connect_timeout : config.connect_timeout;
        deadline_.expires_after(limit + std::chrono::seconds(5));
        failure = co_await net::open_within(connection, origin.host, origin.port, limit,
                                            hop == Hop::peer ? "PEER_CONNECT_TIMEOUT" : "CONNECT_TIMEOUT", transport);
      } else {
        deadline_.expires_after(config.connect_timeout);
        failure = co_await connection.open(origin.host, origin.port);
      }
      if (failure) co_return Exchange{.unreachable = failure->unreachable, .error = failure->message};
    }
    const bool may_retry =
        connection.requests() > 0 && !with_client_body && attempt == 0 && http::is_idempotent(head.method);
    connection.count_request();

    deadline_.expires_after(config.upstream_idle_timeout);
    if (auto ec = co_await http::write_all(connection.stream(), head_bytes)) {
      connection.close();
      if (may_retry) continue;
      co_return Exchange{.error = "upstream write failed: " + ec.message()};
    }

    if (with_client_body) {
      if (request.headers.has_token("Expect", "100-continue")) {
        if (co_await http::write_all(client_, std::string_view("HTTP/1.1 100 Continue\r\n\r\n"))) {
          co_return Exchange{.error = "client went away"};
        }
      }
      http::BodyWriter to_upstream(request.framing == http::BodyFraming::chunked);
      auto ec = co_await http::read_body(client_, buffer_, parser_, deadline_, config.client_idle_timeout,
                                   [&](std::string_view piece) { return to_upstream.write(connection.stream(), piece); });
      if (!ec) ec = co_await to_upstream.finish(connection.stream());
      if (ec) {
        connection.close();
        co_return Exchange{.error = "request body relay failed: " + ec.message()};
      }
    }

    // Interim 1xx responses (100 Continue) are ours to absorb: we already sent the body.
    std::error_code ec;
    http::HeadStatus status;
    do {
      response.reset();
      response.expect_response_to(head.method);
      deadline_.expires_after(config.upstream_idle_timeout);
      if (hop != Hop::upstream) {
        // A stopped replica (or bucket) keeps its sockets open: its silence must move the request
        // on within HEADER_TIMEOUT, not end the client's session at the idle timeout.
        status = co_await read_head_within(connection, response, ec, config.header_timeout);
      } else {
        status = co_await http::read_head(connection.stream(), connection.buffer(), response, ec);
      }
    } while (status == http::HeadStatus::ok && response.response().status / 100 == 1);

    if (status == http::HeadStatus::ok) {
      if (hop == Hop::upstream) deps_.observer.upstream_latency(std::chrono::steady_clock::now() - started);
      co_return Exchange{.ok = true, .origin = origin};
    }
    connection.close();
    if (status == http::HeadStatus::closed && may_retry) continue;
    co_return Exchange{.error = status == http::HeadStatus::parse_error ? "bad upstream response: " + response.error_text()
                                : status == http::HeadStatus::closed    ? std::string("upstream closed the connection")
                                                                  : "upstream read failed: " + ec.message()};
  }
}

asio::awaitable<bool> Session::relay_response(AccessRecord& record, http::Parser& response) {
  const http::RequestHead& request = parser_.request();
  const auto& upstream = response.response();
  const bool keep_alive = request.keep_alive && !Deadline::draining();
  const http::ClientResponse out = http::client_response(upstream, request.method, to_string(record.cache), keep_alive);
  record.status = out.head.status;

  UpstreamBody body(upstream_, response, deadline_, settings_.upstream_idle_timeout);
  const auto delivered = co_await deliver(record, http::serialize(out.head), out.chunked, body);
  if (delivered != Delivered::complete) {
    upstream_.close();
    co_return false;
  }
  if (!upstream.keep_alive || upstream.framing == http::BodyFraming::until_close) upstream_.close();
  co_return keep_alive;
}

asio::awaitable<Session::Delivered> Session::deliver(AccessRecord& record, std::string head, bool chunked,
                                                     BodySource& body) {
  deadline_.expires_after(settings_.client_idle_timeout);
  bool client_gone = static_cast<bool>(co_await http::write_all(client_, head));
  if (client_gone && !body.outlives_client()) co_return Delivered::client_gone;

  // The last piece waits for the source's verdict while it has bytes to verify.
  http::HoldbackWriter out(chunked, body.verifies());
  const auto ec = co_await body.pump([&](std::string_view piece) -> asio::awaitable<std::error_code> {
    if (client_gone) co_return std::error_code{};
    deadline_.expires_after(settings_.client_idle_timeout);
    auto written = co_await out.write(client_, piece);
    if (written && body.outlives_client()) {
      client_gone = true;  // the source goes on without the client
      co_return std::error_code{};
    }
    co_return written;
  });
  record.bytes = out.bytes_written();
  if (ec) {
    if (!body.failure().empty()) record.error = body.failure();
    co_return Delivered::failed;
  }
  if (co_await body.verify()) {
    // The held-back tail is never sent: the client sees a truncated body, not a wrong one.
    record.error = body.failure();
    spdlog::error("session {}: {}{}{}: {}", info_.id, route_.registry.authority(), record.path,
                  record.upstream.empty() ? "" : " (from " + record.upstream + ")", record.error);
    co_return Delivered::failed;
  }
  if (!client_gone && co_await out.release(client_)) client_gone = true;
  record.bytes = out.bytes_written();
  co_return client_gone ? Delivered::client_gone : Delivered::complete;
}

asio::awaitable<bool> Session::reply_offline(AccessRecord& record, const cache::RegistryRequest& classified) {
  using cache::RequestKind;
  int status = 404;
  std::string_view code;
  std::string what;
  switch (classified.kind) {
    case RequestKind::blob:
      code = "BLOB_UNKNOWN";
      what = fmt::format("blob {} of {}", classified.reference, classified.repository);
      break;
    case RequestKind::manifest_by_digest:
    case RequestKind::manifest_by_tag:
      code = "MANIFEST_UNKNOWN";
      what = fmt::format("{}{}{}", classified.repository,
                         classified.kind == RequestKind::manifest_by_tag ? ":" : "@", classified.reference);
      break;
    case RequestKind::referrers:
      code = "MANIFEST_UNKNOWN";
      what = fmt::format("the referrers of {}@{}", classified.repository, classified.reference);
      break;
    case RequestKind::tag_list:
      code = "NAME_UNKNOWN";
      what = fmt::format("the tag list of {}", classified.repository);
      break;
    default:
      status = 503;
      code = "UNAVAILABLE";
      what = fmt::format("{} {}", parser_.request().method, record.path);
      break;
  }
  const auto message = fmt::format("pullthrough is offline (OFFLINE=true) and {} at {} is not in its cache", what,
                                   route_.registry.authority());
  if (record.cache == CacheStatus::none) record.cache = CacheStatus::miss;
  record.error = "offline: not cached";
  http::Headers headers;
  headers.add("Docker-Distribution-Api-Version", "registry/2.0");
  // A request body we do not read would be taken for the next request.
  const auto& request = parser_.request();
  const bool keep_alive = request.keep_alive && request.framing == http::BodyFraming::none;
  co_return co_await reply(record, status, cache::registry_error_body(code, message), keep_alive, std::move(headers),
                           "application/json");
}

asio::awaitable<bool> Session::reply(AccessRecord& record, int status, std::string message, bool keep_alive,
                                         http::Headers extra, std::string content_type) {
  http::LocalResponse response;
  response.status = status;
  response.body = std::move(message);
  response.content_type = std::move(content_type);
  response.extra_headers = std::move(extra);
  if (record.cache != CacheStatus::none) response.extra_headers.add("X-Cache", std::string(to_string(record.cache)));
  record.status = status;
  const bool head_only = record.method == "HEAD";
  record.bytes = head_only ? 0 : response.body.size();
  deadline_.expires_after(settings_.client_idle_timeout);
  if (co_await http::write_all(client_, http::render(response, keep_alive, head_only))) co_return false;
  co_return keep_alive;
}

}  // namespace pt::registry
