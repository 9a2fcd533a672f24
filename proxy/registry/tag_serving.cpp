// Manifests asked for by tag: one record per tag for every client (cache/tag_record.hpp), the
// variant chosen by the client's Accept (cache/manifest_negotiation.hpp), one revalidation HEAD
// per freshness window whichever client causes it, and stale-if-error for any client that a
// stored variant fits.
#include "cache/cache_error.hpp"
#include "cache/cache_key.hpp"
#include "cache/cache_policy.hpp"
#include "cache/manifest_cache_policy.hpp"
#include "cache/manifest_negotiation.hpp"
#include "common/run_blocking.hpp"
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/revalidations.hpp"
#include "proxy/registry/session.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <span>
#include <vector>

namespace pt::registry {
namespace {

// A stored index is read whole to find a platform's manifest in it; indexes are a few KiB.
constexpr std::uint64_t kMaxIndexBytes = 4u << 20;

std::optional<std::string> read_whole(const cache::BlobReader& reader) {
  if (reader.size() > kMaxIndexBytes) return std::nullopt;
  std::string body(reader.size(), '\0');
  std::uint64_t done = 0;
  while (done < body.size()) {
    std::error_code ec;
    const auto n = reader.read_at(done, std::span(body.data() + done, body.size() - done), ec);
    if (ec || n == 0) return std::nullopt;
    done += n;
  }
  return body;
}

}  // namespace

asio::awaitable<bool> Session::serve_tag(AccessRecord& record, const cache::RegistryRequest& classified,
                                         const std::string& tag_key) {
  note_bucket_use(tag_object_key(tag_key));
  auto& store = *deps_.cache;
  const auto now = cache::now_timestamp();
  const auto accepted = cache::AcceptedTypes::parse(client_accept());

  auto tag = store.tag_memoized(tag_key);
  if (!tag) tag = co_await run_blocking(deps_.blocking, [&store, &tag_key] { return store.tag(tag_key); });
  // BLOB_STORE: another replica may have fetched it (this one's disk may be new, or empty).
  if (!tag && deps_.object_store) tag = co_await import_tag_from_store(classified, tag_key);
  // (TagFill values are named before co_await: GCC 12 destroys aggregate temporaries in a co_await
  // expression twice.)
  if (!tag) {
    TagFill fill{.key = tag_key};
    co_return co_await fill_tag(record, classified, std::move(fill));
  }

  const auto variant = cache::choose_variant(*tag, accepted);
  if (now < tag->fresh_until) {
    if (variant) {
      record.cache = CacheStatus::hit;
      if (const auto served = co_await serve_variant(record, classified, *variant); served.served) {
        co_return served.keep_going;
      }
    }
    // Fresh, but nothing stored fits this client (or its manifest was evicted): ask upstream.
    TagFill fill{.key = tag_key};
    co_return co_await fill_tag(record, classified, std::move(fill));
  }

  // Stale: one HEAD with every manifest type tells whether the tag is still what we hold, for
  // every variant at once.
  // Offline, whatever its age: no HEAD to ask, and nothing to tell the log but STALE.
  // (Not a conditional expression: GCC 12 destroys a temporary beside a co_await twice.)
  cache::UpstreamAnswer answer{.reachable = false};
  std::optional<Revalidations::Turn> turn;  // concurrent requests for the tag share one HEAD
  if (!settings_.offline && deps_.revalidations) {
    turn.emplace(deps_.revalidations->join(tag_key));
    if (turn->leads()) {
      answer = co_await revalidate(record);
    } else {
      answer = co_await turn->answer();
      if (!answer.reachable) record.error = "upstream unreachable (a concurrent request's revalidation)";
    }
  } else if (!settings_.offline) {
    answer = co_await revalidate(record);
  }
  const auto verdict = cache::on_tag_revalidation(answer, *tag);
  // A confirmed tag's waiters are released once its record is fresh again, so that a request
  // arriving meanwhile finds it fresh instead of asking upstream once more.
  if (turn && verdict != cache::TagRevalidation::confirmed) turn->finish(answer);
  switch (verdict) {
    case cache::TagRevalidation::confirmed: {
      const auto head_digest = *cache::Digest::parse(*answer.docker_content_digest);
      const auto fresh_until = deps_.manifest_policy.fresh_until(cache_registry(), classified.repository, classified.reference, now);
      co_await run_blocking(deps_.blocking, [&store, &tag_key, now, fresh_until, &head_digest] {
        return store.refresh_tag(tag_key, now, fresh_until, head_digest);
      });
      if (turn) turn->finish(answer);
      if (variant) {
        record.cache = CacheStatus::revalidated;
        if (const auto served = co_await serve_variant(record, classified, *variant); served.served) {
          co_return served.keep_going;
        }
      }
      TagFill fill{.key = tag_key, .head_digest = head_digest};
      co_return co_await fill_tag(record, classified, std::move(fill));
    }
    case cache::TagRevalidation::moved: {
      TagFill fill{.key = tag_key, .moved = true};
      if (answer.docker_content_digest) fill.head_digest = cache::Digest::parse(*answer.docker_content_digest);
      co_return co_await fill_tag(record, classified, std::move(fill));
    }
    case cache::TagRevalidation::failed:
      if (variant) {
        record.cache = CacheStatus::stale;
        if (const auto served = co_await serve_variant(record, classified, *variant); served.served) {
          co_return served.keep_going;
        }
      }
      co_return co_await serve_tag_offline(record, classified, *tag, accepted,
                                           settings_.offline  ? std::string("the proxy is offline (OFFLINE=true)")
                                           : answer.reachable ? fmt::format("it answered {}", answer.status)
                                                              : record.error);
    case cache::TagRevalidation::deleted: {
      const auto dropped = co_await run_blocking(deps_.blocking, [&store, &tag_key] { return store.remove_entry(tag_key); });
      if (dropped.error) {
        spdlog::warn("session {}: cannot drop the record of deleted tag {}: {}", info_.id, tag_key, dropped.error.message());
      } else {
        spdlog::info("session {}: {}/{}:{} is gone upstream (404): its tag record is dropped", info_.id,
                     route_.registry.authority(), classified.repository, classified.reference);
      }
      break;
    }
    case cache::TagRevalidation::relay:
      break;
  }
  // 401 (the client must authenticate first), 403, 404 (deleted upstream): the registry's own
  // answer, not a stored one.
  record.cache = CacheStatus::bypass;
  co_return co_await forward(record, classified);
}

asio::awaitable<Session::Served> Session::serve_variant(AccessRecord& record,
                                                        const cache::RegistryRequest& classified,
                                                        const cache::TagVariant& variant) {
  auto& store = *deps_.cache;
  const auto now = cache::now_timestamp();
  const auto key = cache::manifest_key(cache_registry(), classified.repository, variant.digest);
  note_bucket_use(object_key(variant.digest));  // a pull by tag uses the manifest's bucket copy too
  if (classified.is_head) {
    // Answered from the record alone: a storm of HEADs for a tag (ImagePullPolicy: Always) costs
    // no disk access, and the manifest itself need not be stored (containerd and docker fetch it
    // by digest next).
    const cache::IndexEntry entry{.key = key, .digest = variant.digest, .size = variant.size,
                                  .media_type = variant.media_type};
    const bool keep_going = co_await serve_hit(record, entry, nullptr);
    co_return Served{true, keep_going};
  }
  auto hit = store.lookup_memoized(key, now);
  if (!hit) hit = co_await run_blocking(deps_.blocking, [&store, &key, now] { return store.lookup(key, now); });
  if (!hit) co_return Served{};
  const bool keep_going = co_await serve_hit(record, hit->entry, &hit->reader);
  co_return Served{true, keep_going};
}

asio::awaitable<bool> Session::fill_tag(AccessRecord& record, const cache::RegistryRequest& classified, TagFill tag) {
  record.cache = CacheStatus::miss;
  const auto accept = client_accept();
  // A client that takes every manifest type gets what the tag is: the digest of its answer is the
  // tag's identity, as a revalidation HEAD would report it.
  tag.identifies_tag = cache::AcceptedTypes::parse(accept).accepts_every_manifest_type();
  // A HEAD has no body to store, but its answer names the variant.
  if (classified.is_head) co_return co_await forward(record, classified, &tag);
  // The same tag asked with the same Accept by another client is one fetch.
  auto turn = co_await take_fill(record, classified, cache::tag_fill_key(tag.key, accept), tag.key);
  if (turn.answered) co_return *turn.answered;
  if (!tag.moved) {
    // Another client's fill of this tag may have been committed (and left the fill registry)
    // between our lookup and now: look again before asking upstream, so a tag is fetched once.
    if (const auto variant = co_await committed_tag_variant(tag.key)) {
      turn.writer->fail(cache::CacheErrc::fill_abandoned);  // nobody waits on a fill we will not make
      record.cache = CacheStatus::hit;
      const auto served = co_await serve_variant(record, classified, *variant);
      if (served.served) co_return served.keep_going;
      record.cache = CacheStatus::miss;  // evicted meanwhile: relay upstream's answer, uncached
      co_return co_await forward(record, classified);
    }
  }
  co_return co_await fill_and_serve(record, classified, std::move(*turn.writer), &tag);
}

asio::awaitable<std::optional<cache::TagVariant>> Session::committed_tag_variant(const std::string& tag_key) {
  auto& store = *deps_.cache;
  const auto now = cache::now_timestamp();
  const auto current = co_await run_blocking(deps_.blocking, [&store, &tag_key] { return store.tag(tag_key); });
  if (!current || now >= current->fresh_until) co_return std::nullopt;
  co_return cache::choose_variant(*current, cache::AcceptedTypes::parse(client_accept()));
}

asio::awaitable<void> Session::learn_tag_variant(const cache::RegistryRequest& classified,
                                                 const http::ResponseHead& head, const TagFill& tag) {
  if (!cache::is_cacheable_response(classified.kind, head.status, head.headers.get("Cache-Control").value_or(""))) {
    co_return;
  }
  const auto digest_header = head.headers.get("Docker-Content-Digest");
  auto digest = digest_header ? cache::Digest::parse(*digest_header) : std::nullopt;
  const auto media_type = head.headers.get("Content-Type").value_or("");
  const auto length = head.headers.get("Content-Length");
  std::uint64_t size = 0;
  if (!digest || media_type.empty() || !length ||
      std::from_chars(length->data(), length->data() + length->size(), size).ec != std::errc{}) {
    co_return;  // not enough to describe the manifest: the next GET fetches it
  }
  const auto now = cache::now_timestamp();
  const auto fresh_until = deps_.manifest_policy.fresh_until(cache_registry(), classified.repository, classified.reference, now);
  auto head_digest = tag.head_digest;
  if (!head_digest && tag.identifies_tag) head_digest = digest;
  cache::TagVariant variant{.digest = std::move(*digest), .media_type = std::string(media_type), .size = size,
                            .fetched = now};
  auto& store = *deps_.cache;
  const auto error = co_await run_blocking(deps_.blocking, [&] {
    return store.record_tag_variant(tag.key, std::move(variant), fresh_until, tag.moved, std::move(head_digest));
  });
  if (error) spdlog::warn("session {}: cannot record tag {}: {}", info_.id, tag.key, error.message());
}

asio::awaitable<bool> Session::serve_tag_offline(AccessRecord& record, const cache::RegistryRequest& classified,
                                                 const cache::TagRecord& tag, const cache::AcceptedTypes& accepted,
                                                 std::string why) {
  auto& store = *deps_.cache;
  const std::string registry = cache_registry();
  // A client that takes no index gets the platform manifest the registry would have picked from
  // it, if that manifest is stored (the client that pulled the index pulled it too).
  for (const auto& variant : tag.variants) {
    if (!cache::is_index_media_type(variant.media_type)) continue;
    const auto key = cache::manifest_key(registry, classified.repository, variant.digest);
    auto body = co_await run_blocking(deps_.blocking, [&store, &key] {
      const auto hit = store.lookup(key, cache::now_timestamp());
      return hit ? read_whole(hit->reader) : std::nullopt;
    });
    const auto platform = body ? cache::platform_manifest(*body) : std::nullopt;
    if (!platform || !accepted.accepts(platform->media_type)) continue;
    record.cache = CacheStatus::stale;
    const cache::TagVariant child{.digest = platform->digest, .media_type = platform->media_type, .size = platform->size};
    if (const auto served = co_await serve_variant(record, classified, child); served.served) {
      co_return served.keep_going;
    }
  }

  std::vector<std::string> stored;
  for (const auto& variant : tag.variants) stored.push_back(variant.media_type);
  const auto reference = fmt::format("{}/{}:{}", route_.registry.authority(), classified.repository, classified.reference);
  const auto message =
      stored.empty()
          ? fmt::format("the registry cannot be reached ({}) and {} is not cached", why, reference)
          : fmt::format("the registry cannot be reached ({}); the proxy holds {} only as {}, which this client's "
                        "Accept header does not allow",
                        why, reference, fmt::join(stored, ", "));
  record.cache = CacheStatus::miss;
  record.error = "upstream failed (" + why + ") and no cached variant fits the client's Accept";
  http::Headers headers;
  headers.add("Docker-Distribution-Api-Version", "registry/2.0");
  co_return co_await reply(record, 404, cache::registry_error_body("MANIFEST_UNKNOWN", message),
                           parser_.request().keep_alive, std::move(headers), "application/json");
}

}  // namespace pt::registry
