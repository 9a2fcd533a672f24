// PEERS: the two ends of the peer link inside a registry session. The replica a client reached
// forwards what another replica owns (serve_via_owner); the owner, on its peer port, serves it as
// a single node would (route_peer_request), so fills, digest checks, revalidations, credentials
// and redirects are the owner's, once for the whole cluster.
#include "proxy/registry/session.hpp"

#include "auth/registry_matcher.hpp"
#include "cache/cache_key.hpp"
#include "cluster/members.hpp"
#include "common/host_port.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/registry/peer_pool.hpp"

#include <asio/this_coro.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::registry {
namespace {

// The header a forwarded request from the mirror port carries: the repository whose Bearer token
// the proxy fetches itself (the mirror's clients hold none), so the owner does the same.
constexpr std::string_view token_scope_header = "Pullthrough-Token-Scope";

CacheStatus cache_status_of(const http::ResponseHead& response) {
  const auto text = response.headers.get("X-Cache").value_or("");
  for (auto status : {CacheStatus::hit, CacheStatus::miss, CacheStatus::revalidated, CacheStatus::stale,
                      CacheStatus::bypass, CacheStatus::local}) {
    if (http::iequals(text, to_string(status))) return status;
  }
  return CacheStatus::bypass;  // an answer the owner did not classify (an error of its own)
}

}  // namespace

asio::awaitable<std::optional<bool>> Session::serve_via_owner(AccessRecord& record,
                                                              const cache::RegistryRequest& classified,
                                                              const std::string& owner_key) {
  auto& members = deps_.cluster->members;
  const auto candidates = members.candidates(owner_key);
  // The client's request as it came, credentials included: the owner injects AUTH_REGISTRIES and,
  // in CACHE_AUTH_MODE=verify, checks the client's own credentials, exactly as if it had come there.
  http::RequestHead head = http::upstream_request(parser_.request(), std::nullopt);
  head.headers.set("Host", route_.registry.authority());
  // Only we say which token the owner fetches: a client's own header of that name goes no further.
  head.headers.remove(token_scope_header);
  if (route_.token_scope) head.headers.set(std::string(token_scope_header), *route_.token_scope);

  // Pooled connections stay on the I/O thread (io_context) that opened them.
  const auto executor = co_await asio::this_coro::executor;
  const void* thread = &asio::query(executor, asio::execution::context);
  for (const auto& candidate : candidates) {
    if (candidate.self) co_return std::nullopt;  // ours: served here
    const auto address = parse_authority(candidate.member, PortRule::required);
    if (!address) continue;  // members are canonical host:port; never reached
    const http::Origin peer{address->host, *address->port};
    peer_ = deps_.cluster->pool.take(thread, candidate.member);
    if (!peer_) peer_ = std::make_unique<net::UpstreamConnection>(deps_.cluster->tls, deps_.cluster->resolve);
    http::Parser response(http::Parser::Kind::response, {.max_head_bytes = settings_.max_header_bytes});
    const Exchange outcome = co_await exchange(*peer_, peer, head, false, response, Hop::peer);
    if (outcome.ok) {
      record.peer = candidate.member;
      const bool keep_going = co_await relay_from_peer(record, classified, response);
      // Back to the pool only after a clean end: an open connection then sits between answers.
      if (peer_->is_open()) deps_.cluster->pool.put(thread, candidate.member, std::move(peer_));
      peer_.reset();
      co_return keep_going;
    }
    peer_.reset();
    // Unreachable, or it failed before answering: its share goes to the next in order for a while.
    deps_.observer.peer_failed(candidate.member);
    if (members.mark_down(candidate.member)) {
      spdlog::warn("session {}: peer {} failed ({}); the next replicas take its share for now", info_.id,
                   candidate.member, outcome.error);
    }
  }
  // No owner reachable (or this replica is not a member): a pull never fails for a peer.
  co_return std::nullopt;
}

asio::awaitable<bool> Session::relay_from_peer(AccessRecord& record, const cache::RegistryRequest& classified,
                                               http::Parser& response) {
  const http::RequestHead& request = parser_.request();
  const auto& answer = response.response();
  record.cache = cache_status_of(answer);
  const bool keep_alive = request.keep_alive && !Deadline::draining();
  const http::ClientResponse out = http::client_response(answer, request.method, to_string(record.cache), keep_alive);
  record.status = out.head.status;

  // Content asked for by digest is checked here too: a peer is another process that can be cut off
  // or wrong, and the client must never get a completed body of other bytes.
  std::optional<cache::Digest> expected;
  const bool by_digest =
      classified.kind == cache::RequestKind::blob || classified.kind == cache::RequestKind::manifest_by_digest;
  if (by_digest && !classified.is_head && answer.status == 200 && classified.digest) expected = classified.digest;

  UpstreamBody body(*peer_, response, deadline_, settings_.upstream_idle_timeout, expected);
  const auto delivered = co_await deliver(record, http::serialize(out.head), out.chunked, body);
  if (delivered != Delivered::complete) {
    peer_->close();
    // The owner died mid-body or sent wrong bytes: its share moves on until it proves itself again.
    if (delivered == Delivered::failed && !body.failure().empty()) {
      deps_.observer.peer_failed(record.peer);
      if (deps_.cluster->members.mark_down(record.peer)) {
        spdlog::warn("session {}: peer {} failed mid-transfer ({}); the next replicas take its share for now",
                     info_.id, record.peer, body.failure());
      }
    }
    co_return false;
  }
  if (!answer.keep_alive || answer.framing == http::BodyFraming::until_close) peer_->close();
  co_return keep_alive;
}

asio::awaitable<std::optional<bool>> Session::route_peer_request(AccessRecord& record) {
  auto& request = parser_.request();
  record.for_peer = true;
  record.method = request.method;
  record.path = http::path_of(http::origin_form(request.target));
  const bool keep_alive = request.keep_alive && request.framing == http::BodyFraming::none;

  const auto host = request.headers.get("Host");
  const auto registry = host ? parse_authority(*host) : ParseResult<HostPort>::failure("no Host");
  if (!registry) {
    record.cache = CacheStatus::local;
    record.error = "peer request without a registry in Host";
    co_return co_await reply(record, 400, "pullthrough: a peer request names its registry in Host\n", keep_alive);
  }
  const std::uint16_t port = registry->port.value_or(443);
  record.host = format_authority(registry->host, registry->port);
  // The same registries as on the proxy port: a peer is no open relay either.
  if (!deps_.registries.intercepts(registry->host, port)) {
    record.cache = CacheStatus::local;
    record.error = fmt::format("registry {} is not intercepted here (REGISTRIES differ between replicas?)", record.host);
    co_return co_await reply(record, 403, "pullthrough: " + record.error + "\n", keep_alive);
  }
  std::optional<std::string> scope;
  if (auto named = request.headers.get(token_scope_header); named && mirror_) scope = std::string(*named);
  request.headers.remove(token_scope_header);
  route_ = Route{.registry = {registry->host, port}, .token_scope = std::move(scope)};
  co_return std::nullopt;
}

}  // namespace pt::registry
