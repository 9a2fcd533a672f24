// The cache paths of a registry Session for digest-addressed content (blobs, manifests by digest):
// hits served from blob files, misses filled while they stream, clients attached to a fill in
// progress. Tags have their own path (tag_serving.cpp).
#include "cache/byte_range.hpp"
#include "cache/cache_error.hpp"
#include "cache/cache_key.hpp"
#include "cache/manifest_cache_policy.hpp"
#include "cache/timestamp.hpp"
#include "common/run_blocking.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/registry/body_source.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/object_uploads.hpp"
#include "proxy/registry/session.hpp"
#include "proxy/registry/upstream_health.hpp"

#include <asio/this_coro.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cassert>

namespace pt::registry {
namespace {

// The head of a response served by the proxy from stored content.
http::ResponseHead stored_head(int status, const cache::Headers& replayed, const std::string& media_type,
                               const cache::Digest* digest, std::string_view cache_status, bool keep_alive) {
  http::ResponseHead head;
  head.status = status;
  head.reason = std::string(http::reason_phrase(status));
  for (const auto& [name, value] : replayed) head.headers.add(name, value);
  if (!media_type.empty()) head.headers.set("Content-Type", media_type);
  if (digest) head.headers.set("Docker-Content-Digest", digest->str());
  head.headers.set("Docker-Distribution-Api-Version", "registry/2.0");
  head.headers.set("X-Cache", std::string(cache_status));
  head.keep_alive = keep_alive;
  if (!keep_alive) head.headers.set("Connection", "close");
  return head;
}

cache::Headers replayed_headers(const http::Headers& headers) {
  cache::Headers out;
  for (const auto& h : headers) {
    if (cache::is_replayed_header(h.name)) out.emplace_back(h.name, h.value);
  }
  return out;
}

}  // namespace

asio::awaitable<bool> Session::serve_cacheable(AccessRecord& record, const cache::RegistryRequest& classified,
                                                   const std::string& key) {
  if (verifies_access()) {
    switch (co_await verify_client_access(record, classified)) {
      case Access::allowed:
        break;
      case Access::denied:
        // The registry's own answer (401 with its challenge, 403, 404) goes to the client, uncached.
        record.cache = CacheStatus::bypass;
        co_return co_await forward(record, classified, nullptr, Upstreams::registry_only);
      case Access::unverifiable:
        record.cache = CacheStatus::bypass;
        co_return co_await reply(record, 503,
                                 "pullthrough: the registry cannot be asked whether your credentials allow this "
                                 "repository (CACHE_AUTH_MODE=verify), so nothing is served from the cache\n",
                                 parser_.request().keep_alive);
    }
  }
  if (classified.kind == cache::RequestKind::manifest_by_tag) co_return co_await serve_tag(record, classified, key);
  if (classified.kind == cache::RequestKind::referrers) co_return co_await serve_referrers(record, classified, key);
  if (classified.digest) note_bucket_use(object_key(*classified.digest));  // hit, fill or bucket read alike
  auto& store = *deps_.cache;
  const auto now = cache::now_timestamp();
  if (classified.is_head) {
    // HEADs (clients check each blob and manifest before a pull) are answered from memory.
    if (auto entry = store.peek_memoized(key, now);
        entry && cache::decide(classified, entry->fresh_until, now) == cache::CacheAction::serve_cached) {
      record.cache = CacheStatus::hit;
      co_return co_await serve_hit(record, *entry, nullptr);
    }
  }
  auto lookup = [&store, &key, now] { return store.lookup(key, now); };
  std::optional<cache::CacheStore::Hit> hit = store.lookup_memoized(key, now);
  if (!hit) hit = co_await run_blocking(deps_.blocking, lookup);

  // Digest-addressed content never goes stale: stored means served.
  const auto action = cache::decide(classified, hit ? std::optional(hit->entry.fresh_until) : std::nullopt, now);
  switch (action) {
    case cache::CacheAction::serve_cached:
      record.cache = CacheStatus::hit;
      co_return co_await serve_hit(record, hit->entry, &hit->reader);
    case cache::CacheAction::fill: {
      auto turn = co_await take_fill(record, classified, key, key);
      if (turn.answered) co_return *turn.answered;
      // A fill may have been committed (and left the registry) between our lookup and now: look
      // again before asking upstream, so a blob is not fetched twice.
      if (auto committed = co_await run_blocking(deps_.blocking, lookup);
          committed && cache::decide(classified, committed->entry.fresh_until, now) ==
                           cache::CacheAction::serve_cached) {
        turn.writer->fail(cache::CacheErrc::fill_abandoned);
        record.cache = CacheStatus::hit;
        co_return co_await serve_hit(record, committed->entry, &committed->reader);
      }
      co_return co_await fill_and_serve(record, classified, std::move(*turn.writer));
    }
    case cache::CacheAction::forward:
      // A HEAD with nothing stored: relay upstream's HEAD, never turned into a GET.
      if (record.cache == CacheStatus::none) record.cache = CacheStatus::miss;
      co_return co_await forward(record, classified);
    default:
      record.cache = CacheStatus::bypass;
      co_return co_await forward(record, classified);
  }
}

asio::awaitable<cache::UpstreamAnswer> Session::revalidate(AccessRecord& record) {
  http::RequestHead head = http::upstream_request(parser_.request(), injected_authorization());
  head.method = "HEAD";
  head.headers.set("Accept", cache::revalidation_accept());
  http::Parser response(http::Parser::Kind::response, {.max_head_bytes = settings_.max_header_bytes});
  const auto outcome = co_await fetch(record, record.request, head, response);
  if (!outcome.ok) {
    record.error = outcome.error;
    co_return cache::UpstreamAnswer{.reachable = false};
  }
  const auto& upstream = response.response();
  cache::UpstreamAnswer answer{.reachable = true, .status = upstream.status};
  if (auto digest = upstream.headers.get("Docker-Content-Digest")) answer.docker_content_digest = std::string(*digest);
  if (!upstream.keep_alive) upstream_.close();
  co_return answer;
}

asio::awaitable<bool> Session::serve_hit(AccessRecord& record, const cache::IndexEntry& entry,
                                             const cache::BlobReader* reader) {
  const auto& config = settings_;
  const http::RequestHead& request = parser_.request();
  const bool keep_alive = request.keep_alive && !Deadline::draining();
  const bool head_only = request.method == "HEAD";

  const auto range = head_only ? cache::RangeRequest{}
                               : cache::parse_range(request.headers.get("Range"), entry.size);
  int status = 200;
  std::uint64_t first = 0;
  std::uint64_t length = entry.size;
  if (range.kind == cache::RangeRequest::Kind::partial) {
    status = 206;
    first = range.range.first;
    length = range.range.length();
  } else if (range.kind == cache::RangeRequest::Kind::unsatisfiable) {
    status = 416;
    length = 0;
  }
  auto head = stored_head(status, entry.headers, entry.media_type, &entry.digest, to_string(record.cache), keep_alive);
  head.headers.set("Accept-Ranges", "bytes");
  head.headers.set("Content-Length", std::to_string(status == 416 ? 0 : length));
  if (status == 206) head.headers.set("Content-Range", cache::content_range(range.range, entry.size));
  if (status == 416) head.headers.set("Content-Range", cache::unsatisfied_content_range(entry.size));
  record.status = status;

  if (head_only || length == 0) {
    deadline_.expires_after(config.client_idle_timeout);
    if (co_await http::write_all(client_, http::serialize(head))) co_return false;
    co_return keep_alive;
  }
  assert(reader);  // only a HEAD is answered from the entry alone

  // A whole body is re-hashed on the way out the first time this process serves the file.
  auto& store = *deps_.cache;
  const bool hash = status == 200 && entry.size > store.settings().verify_on_lookup_max_bytes &&
                    !store.verified_files().contains(*reader, entry.digest);
  CachedFileBody body(*reader, first, length, entry.digest, hash, store, deps_.blocking);
  co_return co_await deliver(record, http::serialize(head), false, body) == Delivered::complete && keep_alive;
}

asio::awaitable<bool> Session::fill_and_serve(AccessRecord& record, const cache::RegistryRequest& classified,
                                                  cache::FillWriter writer, const TagFill* tag,
                                                  const cache::CacheStore::Hit* stale) {
  const auto& config = settings_;
  const http::RequestHead& request = parser_.request();
  http::Parser response(http::Parser::Kind::response, {.max_head_bytes = config.max_header_bytes});
  const http::RequestHead head = http::upstream_request(request, injected_authorization());
  auto outcome = co_await fetch(record, classified, head, response);
  // Blobs often live behind a redirect to a CDN or a signed storage URL: follow it here, so the
  // result is cached under the blob and the client never depends on the URL's expiry.
  net::UpstreamConnection redirected(deps_.upstream_tls, deps_.resolve);
  net::UpstreamConnection* source = &upstream_;
  if (outcome.ok && classified.kind == cache::RequestKind::blob) {
    source = co_await follow_redirects(record, outcome, response, redirected);
  }
  const bool failed = !outcome.ok || cache::is_upstream_failure({.reachable = true, .status = response.response().status});
  if (failed && stale) {
    writer.fail(cache::CacheErrc::fill_failed);
    record.error = outcome.ok ? fmt::format("upstream answered {}", response.response().status) : outcome.error;
    if (outcome.ok) source->close();  // its error body is not wanted
    record.cache = CacheStatus::stale;
    co_return co_await serve_hit(record, stale->entry, &stale->reader);
  }
  if (!outcome.ok) {
    writer.fail(cache::CacheErrc::fill_failed);
    if (settings_.offline) co_return co_await reply_offline(record, classified);
    record.error = outcome.error;
    co_return co_await reply(record, 502, "pullthrough: " + outcome.error + "\n", request.keep_alive);
  }
  const auto& upstream = response.response();
  if (!cache::is_cacheable_response(classified.kind, upstream.status,
                                    upstream.headers.get("Cache-Control").value_or(""))) {
    // 401, 404, redirects...: the client gets upstream's answer; nothing is stored.
    writer.fail(cache::CacheErrc::not_cacheable);
    if (source != &upstream_) {
      // A CDN's error page is not the registry's answer: report it as a gateway failure.
      record.error = fmt::format("redirected blob download failed with {}", response.response().status);
      co_return co_await reply(record, 502, "pullthrough: " + record.error + "\n", false);
    }
    co_return co_await relay_response(record, response);
  }

  cache::FillResponse fill_response;
  fill_response.media_type = std::string(upstream.headers.get("Content-Type").value_or(""));
  fill_response.headers = replayed_headers(upstream.headers);
  if (upstream.framing == http::BodyFraming::content_length) fill_response.content_length = upstream.content_length;
  if (classified.digest && classified.kind != cache::RequestKind::referrers) {  // a referrers list names its subject
    fill_response.expected_digest = classified.digest;
  } else if (auto header = upstream.headers.get("Docker-Content-Digest")) {
    fill_response.expected_digest = cache::Digest::parse(*header);
  }
  writer.publish_response(fill_response);
  if (deps_.object_store && deps_.object_store->uploads && !tag && fill_response.expected_digest &&
      stream_upload_wanted(classified.kind, record.upstream == "s3", fill_response.content_length)) {
    // BLOB_STORE: large content goes to the bucket while it arrives, completed once the fill
    // verified it (object_uploads.hpp). The post-commit enqueue below finds it streaming and
    // leaves it be; when the stream is refused (too many at once), that enqueue uploads it.
    const auto executor = co_await asio::this_coro::executor;  // named first: GCC 12 and co_await arguments
    deps_.object_store->uploads->start_stream(executor, *fill_response.expected_digest, fill_response.media_type,
                                              writer.shared_fill(), *fill_response.content_length,
                                              config.upstream_idle_timeout);
  }

  const bool keep_alive = request.keep_alive && !Deadline::draining();
  const http::ClientResponse out = http::client_response(upstream, request.method, to_string(record.cache), keep_alive);
  record.status = out.head.status;

  // Upstream's bytes go to the client and into the fill; the client leaving does not stop them.
  FillingBody body(*source, response, deadline_, config.upstream_idle_timeout, writer);
  const auto delivered = co_await deliver(record, http::serialize(out.head), out.chunked, body);
  if (delivered == Delivered::failed) {
    source->close();
    if (body.content_mismatch() && record.upstream == "s3" && fill_response.expected_digest) {
      deps_.object_store->health.served_corrupt(*fill_response.expected_digest);
    }
    if (body.content_mismatch() && answered_ && fill_response.expected_digest) {
      // The client's retry goes to the next upstream rather than to the same bad copy.
      deps_.fallbacks->health.served_corrupt(*answered_, fill_response.expected_digest->str(),
                                             UpstreamHealth::clock::now());
    }
    co_return false;
  }
  if (!upstream.keep_alive || upstream.framing == http::BodyFraming::until_close) source->close();
  const bool client_gone = delivered == Delivered::client_gone;
  if (const auto store_error = body.store_error()) {
    spdlog::warn("session {}: {}{} served but not cached: {}", info_.id, route_.registry.authority(), record.path,
                 store_error.message());
    record.error = "not cached: " + store_error.message();
    co_return !client_gone && keep_alive;
  }

  const auto now = cache::now_timestamp();
  auto& store = *deps_.cache;
  std::error_code commit_ec;
  // BLOB_STORE: what upstream gave us goes to the bucket too, noted in the outbox with the commit
  // so that a crash or an outage before the upload ends does not lose it (object_uploads.hpp).
  const bool to_bucket = deps_.object_store && deps_.object_store->uploads && record.upstream != "s3" &&
                         classified.kind != cache::RequestKind::referrers;
  if (tag) {
    // Stored under its digest (which also answers pulls by digest), then named by the tag's record.
    const auto digest = writer.fill().digest();
    const std::string registry = cache_registry();
    const auto fresh_until = deps_.manifest_policy.fresh_until(cache_registry(), classified.repository, classified.reference, now);
    auto commit = [&store, &writer, &registry, &classified, &fill_response, tag, digest, now, fresh_until,
                   to_bucket] {
      if (!digest) return make_error_code(cache::CacheErrc::fill_failed);
      const auto key = cache::manifest_key(registry, classified.repository, *digest);
      if (auto error = store.commit_fill(writer, now, cache::kForever, key)) return error;
      if (to_bucket) (void)ObjectUploads::note_pending(store, *digest, fill_response.media_type);
      auto head_digest = tag->head_digest;
      if (!head_digest && tag->identifies_tag) head_digest = digest;
      auto error = store.record_tag_variant(
          tag->key,
          {.digest = *digest, .media_type = fill_response.media_type, .size = writer.size(), .fetched = now},
          fresh_until, tag->moved, head_digest);
      if (!error && to_bucket) (void)ObjectUploads::note_pending_tag(store, tag->key);
      return error;
    };
    commit_ec = co_await run_blocking(deps_.blocking, commit);
  } else {
    // Digest-addressed content never goes stale; a referrers list is asked again after a while.
    const auto fresh_until = classified.kind == cache::RequestKind::referrers
                                 ? now + std::chrono::duration_cast<std::chrono::seconds>(settings_.referrers_freshness)
                                 : cache::kForever;
    auto commit = [&store, &writer, now, fresh_until, to_bucket] {
      auto error = store.commit_fill(writer, now, fresh_until);
      if (!error && to_bucket) {
        if (const auto digest = writer.fill().digest()) {
          (void)ObjectUploads::note_pending(store, *digest, writer.response().media_type);
        }
      }
      return error;
    };
    commit_ec = co_await run_blocking(deps_.blocking, commit);
  }
  if (commit_ec) {
    spdlog::warn("session {}: {}{} served but not cached: {}", info_.id, route_.registry.authority(), record.path,
                 commit_ec.message());
  } else if (to_bucket) {
    // BLOB_STORE: verified and on the local disk, so now for the bucket (in the background).
    const auto executor = co_await asio::this_coro::executor;  // named first: GCC 12 and co_await arguments
    if (const auto digest = writer.fill().digest()) {
      deps_.object_store->uploads->enqueue(executor, *digest, fill_response.media_type);
    }
    if (tag) deps_.object_store->uploads->enqueue_tag(executor, tag->key);
  }
  co_return !client_gone && keep_alive;
}

asio::awaitable<Session::FillTurn> Session::take_fill(AccessRecord& record,
                                                     const cache::RegistryRequest& classified,
                                                     const std::string& fill_key, const std::string& key) {
  record.cache = CacheStatus::miss;
  std::error_code ec;
  auto attachment = deps_.cache->fills().find_or_start(fill_key, ec);
  FillTurn turn;
  if (ec) {
    spdlog::warn("session {}: cannot cache {}: {}; serving uncached", info_.id, record.path, ec.message());
    turn.answered = co_await forward(record, classified);
  } else if (!attachment.writer) {
    record.cache = CacheStatus::hit;  // a fill another client started: no upstream request of ours
    turn.answered = co_await serve_from_fill(record, classified, key, std::move(attachment.fill));
  } else {
    turn.writer.emplace(std::move(*attachment.writer));
  }
  co_return turn;
}

asio::awaitable<bool> Session::serve_from_fill(AccessRecord& record, const cache::RegistryRequest& classified,
                                                   const std::string& key, std::shared_ptr<cache::Fill> fill) {
  const auto& config = settings_;
  const http::RequestHead& request = parser_.request();
  std::error_code ec;
  deadline_.expires_after(config.upstream_idle_timeout);
  const auto response = co_await fill->wait_response(ec);
  if (!response) {
    // The fill ended before it had an answer. Either its writer found the content committed
    // meanwhile (serve that), or upstream refused it (e.g. 401): then ask upstream ourselves.
    if (classified.kind == cache::RequestKind::manifest_by_tag) {
      // A tag's key names its record, not an index entry: what was committed is a variant of it.
      // (Looked up in the index it was never found, so every waiter of a tag fill its writer
      // abandoned, having found the record committed, asked upstream once more.)
      if (const auto variant = co_await committed_tag_variant(key)) {
        if (const auto served = co_await serve_variant(record, classified, *variant); served.served) {
          co_return served.keep_going;
        }
      }
    } else {
      auto& store = *deps_.cache;
      auto lookup = [&store, &key] { return store.lookup(key, cache::now_timestamp()); };
      if (auto committed = co_await run_blocking(deps_.blocking, lookup)) co_return co_await serve_hit(record, committed->entry, &committed->reader);
    }
    record.cache = CacheStatus::miss;
    co_return co_await forward(record, classified);
  }
  const bool keep_alive = request.keep_alive && !Deadline::draining();
  const bool chunked = !response->content_length;
  auto head = stored_head(200, response->headers, response->media_type,
                          response->expected_digest ? &*response->expected_digest : nullptr, to_string(record.cache),
                          keep_alive);
  if (chunked) {
    head.headers.set("Transfer-Encoding", "chunked");
  } else {
    head.headers.set("Content-Length", std::to_string(*response->content_length));
  }
  record.status = 200;
  SharedFillBody body(*fill, deadline_, config.upstream_idle_timeout);
  co_return co_await deliver(record, http::serialize(head), chunked, body) == Delivered::complete && keep_alive;
}

asio::awaitable<net::UpstreamConnection*> Session::follow_redirects(AccessRecord& record, Exchange& outcome,
                                                                   http::Parser& response,
                                                                   net::UpstreamConnection& redirected) {
  constexpr int max_redirects = 5;
  net::UpstreamConnection* source = &upstream_;
  http::Origin origin = outcome.origin;
  for (int hop = 0; outcome.ok && http::is_redirect(response.response().status); ++hop) {
    const auto location = response.response().headers.get("Location");
    const auto next = location ? http::redirect_target(*location, origin) : std::nullopt;
    if (!next || hop == max_redirects) break;  // the client gets the redirect itself
    // Drain the redirect's small body so the connection it came on stays reusable.
    const auto drained = co_await http::read_body(source->stream(), source->buffer(), response, deadline_,
                                            settings_.upstream_idle_timeout,
                                            [](std::string_view) -> asio::awaitable<std::error_code> {
                                              co_return std::error_code{};
                                            });
    if (drained || !response.response().keep_alive) source->close();

    http::RequestHead get;
    get.method = "GET";
    get.target = next->target;
    get.headers.add("Host", next->origin.authority());
    if (auto agent = parser_.request().headers.get("User-Agent")) get.headers.add("User-Agent", std::string(*agent));
    get.headers.add("Accept", "*/*");
    // The registry's credentials stay with the registry: signed URLs carry their own.
    spdlog::debug("session {}: {} redirected to {}", info_.id, record.path, next->origin.authority());
    origin = next->origin;
    source = &redirected;
    outcome = co_await exchange(redirected, origin, get, false, response);
  }
  co_return source;
}

}  // namespace pt::registry
