// REGISTRY_MIRRORS in a Session: a pull is sent to the registry's upstreams in turn (a mirror
// first, usually the registry itself last) until one has the content. The client and the cache
// know nothing of it: the cache keys, the tag records and the digest checks are the registry's.
#include "auth/credential_policy.hpp"
#include "cache/cache_key.hpp"
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/session.hpp"
#include "proxy/registry/upstream_fallbacks.hpp"
#include "proxy/registry/upstream_health.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::registry {
namespace {

bool is_pull(const cache::RegistryRequest& classified, std::string_view method) {
  using cache::RequestKind;
  const bool content = classified.kind == RequestKind::blob || classified.kind == RequestKind::manifest_by_digest ||
                       classified.kind == RequestKind::manifest_by_tag || classified.kind == RequestKind::referrers;
  return content && (method == "GET" || method == "HEAD");
}

}  // namespace

asio::awaitable<Session::Exchange> Session::fetch(AccessRecord& record, const cache::RegistryRequest& classified,
                                                  const http::RequestHead& head, http::Parser& response) {
  const auto chain = deps_.fallbacks && is_pull(classified, head.method)
                         ? deps_.fallbacks->chains.chain_for(route_.registry.host, route_.registry.port)
                         : nullptr;
  answered_.reset();
  // BLOB_STORE: content by digest comes from the bucket when it holds it, before any upstream.
  const bool by_digest =
      classified.kind == cache::RequestKind::blob || classified.kind == cache::RequestKind::manifest_by_digest;
  if (deps_.object_store && by_digest && classified.digest && (head.method == "GET" || head.method == "HEAD")) {
    auto from_store = co_await fetch_from_store(record, classified, head, response);
    if (from_store) co_return *from_store;
  }
  if (!chain || chain->empty()) co_return co_await exchange(head, false, response);

  auto& health = deps_.fallbacks->health;
  const std::string digest = classified.digest ? classified.digest->str() : std::string();
  const auto order = health.order(*chain, digest, UpstreamHealth::clock::now());
  const std::string registry = cache_registry();
  std::string failures;  // every upstream's failure, for the client when none answers
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Upstream& upstream = order[i];
    const bool last = i + 1 == order.size();
    const bool is_registry =
        upstream.prefix.empty() && cache::registry_authority(upstream.host, upstream.port) == registry;
    // Named before co_await: GCC 12 mishandles temporaries in co_await expressions.
    Exchange outcome;
    if (is_registry) {
      outcome = co_await exchange(head, false, response);
    } else {
      outcome = co_await exchange_with_mirror(upstream, classified, head, response);
    }
    record.upstream = upstream.name();
    answered_ = upstream;
    const auto now = UpstreamHealth::clock::now();
    std::string failure;
    if (!outcome.ok) {
      health.failed(upstream, now);
      failure = outcome.error;
    } else {
      const int status = response.response().status;
      const auto verdict = judge_answer(status, is_registry);
      if (verdict == FallbackVerdict::answer || last) {
        if (verdict != FallbackVerdict::next_down) health.answered(upstream);
        co_return outcome;
      }
      if (verdict == FallbackVerdict::next_down) health.failed(upstream, now);
      failure = fmt::format("answered {}", status);
      // The answer's body is not wanted; a HEAD's has none, so its connection stays usable.
      if (head.method != "HEAD" || !response.response().keep_alive) upstream_.close();
    }
    if (!failures.empty()) failures += "; ";
    failures += fmt::format("{}: {}", upstream.name(), failure);
    if (last) co_return Exchange{.unreachable = outcome.unreachable, .error = "no upstream could serve it: " + failures};
    // A mirror lacking an image is what mirrors do (mirror.gcr.io holds the popular ones only); a
    // failing one is the operator's business.
    const auto level = outcome.ok && response.response().status == 404 ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "session {}: {} {}{}: upstream {} {}; trying {}", info_.id, head.method,
                route_.registry.authority(), record.path, upstream.name(), failure, order[i + 1].name());
  }
  co_return Exchange{.error = "no upstream configured"};  // unreachable: chains are never empty
}

asio::awaitable<Session::Exchange> Session::exchange_with_mirror(const Upstream& upstream,
                                                                 const cache::RegistryRequest& classified,
                                                                 const http::RequestHead& head, http::Parser& response) {
  http::RequestHead sent = head;
  sent.target = upstream.target_for(head.target);
  sent.headers.set("Host", upstream.authority());
  // A token or password the client holds is for the registry it asked, never for a third party.
  sent.headers.remove("Authorization");
  if (auto own = auth::authorization_to_inject(deps_.credentials, upstream.host, upstream.port, false)) {
    sent.headers.set("Authorization", *own);
  }
  const http::Origin origin{upstream.host, upstream.port};
  const std::string scope = upstream.repository_for(classified.repository);
  co_return co_await exchange_with_token(origin, scope, deps_.fallbacks->tokens, std::move(sent), response);
}

}  // namespace pt::registry
