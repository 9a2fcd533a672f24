// BLOB_STORE in a Session: content by digest that the local cache lacks is asked of the bucket
// before any upstream. Its answer goes through the same fill as upstream's (digest verified,
// stored locally, shared with concurrent clients); only when the bucket has nothing, or fails,
// does the registry's chain get the request.
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/session.hpp"

#include "cache/cache_error.hpp"
#include "cache/cache_key.hpp"
#include "cache/cache_store.hpp"
#include "cache/tag_record.hpp"
#include "common/run_blocking.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <fmt/format.h>

namespace pt::registry {
namespace {

// What of an S3 answer reaches a registry client: the body's framing and type. S3's own headers
// (ETag, x-amz-*, Last-Modified) describe the object, not the registry's content.
void as_registry_answer(http::ResponseHead& head, const cache::Digest& digest) {
  http::Headers kept;
  for (const auto& field : head.headers) {
    for (std::string_view name : {"Content-Length", "Content-Range", "Content-Type", "Accept-Ranges", "Connection",
                                  "Keep-Alive", "Transfer-Encoding"}) {
      if (http::iequals(field.name, name)) kept.add(field.name, field.value);
    }
  }
  kept.set("Docker-Content-Digest", digest.str());
  kept.set("Docker-Distribution-Api-Version", "registry/2.0");
  head.headers = std::move(kept);
}

}  // namespace

void Session::note_bucket_use(const std::string& object_key) {
  if (!deps_.object_store || !deps_.cache) return;
  auto& uses = deps_.cache->bucket_uses();
  const auto now = cache::now_timestamp();
  if (!uses.note(object_key, now)) return;
  // Nobody waits for it: a lost write costs some recency, never a pull.
  asio::post(deps_.blocking, [&uses, key = object_key, now] { uses.record(key, now); });
}

asio::awaitable<std::optional<Session::Exchange>> Session::fetch_from_store(AccessRecord& record,
                                                                            const cache::RegistryRequest& classified,
                                                                            const http::RequestHead& head,
                                                                            http::Parser& response) {
  const ObjectStore& store = *deps_.object_store;
  const cache::Digest& digest = *classified.digest;
  if (store.health.known_corrupt(digest)) co_return std::nullopt;
  const std::string key = object_key(digest);
  const auto range = head.headers.get("Range");
  const auto spec = head.method == "HEAD"
                        ? s3::head_object(store.endpoint, key)
                        : s3::get_object(store.endpoint, key, range ? std::optional<std::string_view>(*range) : std::nullopt);
  const http::RequestHead signed_head = signed_request(store, spec);
  const http::Origin origin{store.connect_host(), store.endpoint.port};
  const Exchange outcome = co_await exchange(upstream_, origin, signed_head, false, response, Hop::store);
  if (!outcome.ok) {
    store.health.failed(fmt::format("{}: {}", store.endpoint.describe(), outcome.error));
    co_return std::nullopt;
  }
  const int status = response.response().status;
  if (status == 200 || status == 206) {
    as_registry_answer(response.response(), digest);
    record.upstream = "s3";
    answered_.reset();  // not a REGISTRY_MIRRORS upstream
    store.health.downloaded();
    co_return outcome;
  }
  // Its error body is not wanted (a HEAD's has none, but the connection goes to the registry next).
  upstream_.close();
  if (status != 404) store.health.failed(fmt::format("{}: {} answered {}", store.endpoint.describe(), key, status));
  co_return std::nullopt;
}

asio::awaitable<std::optional<cache::TagRecord>> Session::import_tag_from_store(const cache::RegistryRequest& classified,
                                                                               const std::string& tag_key) {
  using namespace asio::experimental::awaitable_operators;
  const ObjectStore& store = *deps_.object_store;
  // On a deadline of its own: a bucket that hangs costs this lookup, never the client's session.
  Deadline deadline;
  deadline_.expires_after(settings_.upstream_idle_timeout);  // the lookup's own deadline decides
  std::optional<cache::TagRecord> imported;
  bool finished = false;
  auto steps = [&]() -> asio::awaitable<void> {
    imported = co_await import_tag_steps(classified, tag_key, deadline);
    finished = true;
  };
  co_await (steps() || deadline.watchdog());
  // Cut off mid-answer: what is left of it on the connection must not be read as the next one's.
  if (!finished) {
    upstream_.close();
    store.health.failed(fmt::format("{}: no answer in time for the record of {}", store.endpoint.describe(), tag_key));
  }
  co_return imported;
}

asio::awaitable<std::optional<cache::TagRecord>> Session::import_tag_steps(const cache::RegistryRequest& classified,
                                                                          const std::string& tag_key, Deadline& deadline) {
  const ObjectStore& store = *deps_.object_store;
  const auto record_spec = s3::get_object(store.endpoint, tag_object_key(tag_key));
  const S3Answer found = co_await s3_request(upstream_, store, record_spec, deadline);
  if (!found.ok) {
    store.health.failed(fmt::format("{}: {}", store.endpoint.describe(), found.error));
    co_return std::nullopt;
  }
  if (found.status != 200) {
    if (found.status != 404) store.health.failed(fmt::format("{}: a tag record answered {}", store.endpoint.describe(), found.status));
    co_return std::nullopt;
  }
  auto record = cache::decode_tag_record(tag_key, found.body);
  if (!record || record->variants.empty()) co_return std::nullopt;

  // Each variant's manifest comes along (small, by digest, verified): serving the tag needs it on
  // the local disk, and the registry may be the very thing that is away.
  auto& cache = *deps_.cache;
  const std::string registry = cache_registry();
  const auto now = cache::now_timestamp();
  for (const auto& variant : record->variants) {
    const auto manifest_spec = s3::get_object(store.endpoint, object_key(variant.digest));
    const S3Answer manifest = co_await s3_request(upstream_, store, manifest_spec, deadline);
    if (!manifest.ok || manifest.status != 200) co_return std::nullopt;
    const cache::IndexEntry entry{.key = cache::manifest_key(registry, classified.repository, variant.digest),
                                  .digest = variant.digest,
                                  .size = manifest.body.size(),
                                  .media_type = variant.media_type,
                                  .created = now,
                                  .fresh_until = cache::kForever};
    auto keep = [&cache, &entry, &bytes = manifest.body]() -> std::error_code {
      if (cache.index().file(entry.digest) && cache.blobs().contains(entry.digest)) return cache.add_alias(entry);
      std::error_code ec;
      auto writer = cache.blobs().begin_write(ec);
      if (!writer) return ec;
      if (auto error = writer->write(std::span(bytes.data(), bytes.size()))) return error;
      if (writer->finish() != entry.digest) return make_error_code(cache::CacheErrc::digest_mismatch);
      return cache.commit_file(*writer, entry);
    };
    if (const std::error_code kept = co_await run_blocking(deps_.blocking, keep)) {
      if (kept == cache::CacheErrc::digest_mismatch) store.health.served_corrupt(variant.digest);
      co_return std::nullopt;
    }
  }
  // The record keeps its freshness: a stale tag is revalidated as if this replica had fetched it.
  auto index = [&cache, &tag_key, &record = *record]() -> std::error_code {
    for (const auto& variant : record.variants) {
      if (auto error = cache.record_tag_variant(tag_key, variant, record.fresh_until, false, record.head_digest)) {
        return error;
      }
    }
    return {};
  };
  if (co_await run_blocking(deps_.blocking, index)) co_return std::nullopt;
  auto reread = [&cache, &tag_key] { return cache.tag(tag_key); };
  co_return co_await run_blocking(deps_.blocking, reread);
}

}  // namespace pt::registry
