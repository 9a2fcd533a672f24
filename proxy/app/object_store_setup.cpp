#include "proxy/app/object_store_setup.hpp"

#include "cache/cache_store.hpp"
#include "cluster/members.hpp"
#include "common/deadline.hpp"
#include "proxy/net/upstream_connection.hpp"
#include "proxy/registry/object_store_eviction.hpp"
#include "s3/responses.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace pt::app {
namespace {



// The start-up conversation with the bucket, on a private io_context: nothing is serving yet.
struct StartupCheck {
  const registry::ObjectStore& store;
  const cluster::Members* members;
  std::string fatal;       // wrong credentials, no such bucket
  std::string unreachable; // the bucket could not be asked: go on, it is an optimisation
  std::size_t aborted = 0;

  asio::awaitable<void> run() {
    using namespace asio::experimental::awaitable_operators;
    net::UpstreamConnection connection(store.tls, store.resolve);
    Deadline deadline;
    deadline.expires_after(std::chrono::seconds(60));
    co_await (steps(connection, deadline) || deadline.watchdog());
    connection.close();
  }

  asio::awaitable<void> steps(net::UpstreamConnection& connection, Deadline& deadline) {
    // A listing, not HeadBucket: a HEAD's refusal has no body to say why.
    // Request specs are named before co_await: GCC 12 destroys temporaries there twice.
    const auto list = s3::list_objects_v2(store.endpoint, {.prefix = "blobs/", .max_keys = 1});
    const auto listed = co_await registry::s3_request(connection, store, list, deadline);
    if (!listed.ok) {
      unreachable = listed.error;
      co_return;
    }
    if (listed.status != 200) {
      fatal = registry::describe(listed);
      co_return;
    }
    // Multipart uploads a crash left behind: their parts cost storage and are never completed.
    std::string key_marker, id_marker;
    for (int page = 0; page < 100; ++page) {
      const auto list_uploads = s3::list_multipart_uploads(
          store.endpoint, {.prefix = "blobs/", .key_marker = key_marker, .upload_id_marker = id_marker});
      const auto answer = co_await registry::s3_request(connection, store, list_uploads, deadline);
      const auto uploads = answer.ok && answer.status == 200 ? s3::parse_list_multipart_uploads(answer.body)
                                                            : ParseResult<s3::UploadListing>::failure(registry::describe(answer));
      if (!uploads) {
        spdlog::warn("BLOB_STORE: cannot list unfinished uploads: {}", uploads.error);
        co_return;
      }
      for (const auto& upload : uploads->uploads) {
        const auto relative = store.endpoint.relative_key(upload.key);
        if (!relative) continue;
        if (!registry::owns_object(members, *relative)) continue;  // another replica's may be in progress
        const auto abort = s3::abort_multipart_upload(store.endpoint, *relative, upload.upload_id);
        const auto aborted_answer = co_await registry::s3_request(connection, store, abort, deadline);
        if (aborted_answer.ok && aborted_answer.status / 100 == 2) ++aborted;
      }
      if (!uploads->is_truncated) break;
      key_marker = uploads->next_key_marker;
      id_marker = uploads->next_upload_id_marker;
    }
  }
};

// A pass soon after uploads (at most one per 10 s), and at least every 10 minutes, or every half
// S3_INACTIVE when that is shorter (an object then goes at most 1.5 windows after its last use;
// windows of seconds are for tests).
asio::awaitable<void> eviction_loop(const registry::ObjectStore& store, cache::BucketLimits limits,
                                    const cluster::Members* members, cache::CacheStore* cache_store) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const std::chrono::seconds most(std::chrono::minutes(10));
  const auto period = limits.inactive.count() > 0
                          ? std::clamp<std::chrono::seconds>(limits.inactive / 2, std::chrono::seconds(1), most)
                          : most;
  const auto tick = std::min<std::chrono::seconds>(std::chrono::seconds(10), period);
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    timer.expires_after(tick);
    co_await timer.async_wait(asio::use_awaitable);
    const auto now = std::chrono::steady_clock::now();
    if (!store.health.take_grown() && now - last < period) continue;
    last = now;
    // This loop runs on the blocking pool: reading the index here keeps RocksDB off the I/O threads.
    const auto last_used = cache_store ? cache_store->bucket_uses().snapshot() : std::unordered_map<std::string, cache::Timestamp>{};
    const registry::BucketEvictionRequest request{
        .limits = limits, .now = cache::now_timestamp(), .members = members, .last_used = &last_used};
    const auto result = co_await registry::evict_bucket(store, request);
    if (cache_store && !result.gone.empty()) cache_store->bucket_uses().forget(result.gone);
    if (!result.error.empty()) {
      store.health.failed("eviction (S3_MAX_SIZE, S3_INACTIVE): " + result.error);
    } else if (result.deleted > 0) {
      spdlog::info("BLOB_STORE: {} object(s), {} bytes deleted from the bucket, least recently used first, under "
                   "S3_MAX_SIZE / S3_INACTIVE ({} bytes in {} objects before)",
                   result.deleted, result.deleted_bytes, result.bytes, result.objects);
    }
  }
}

}  // namespace

void start_bucket_eviction(asio::any_io_executor executor, const registry::ObjectStore& store,
                           const cache::BucketLimits& limits, const cluster::Members* members,
                           cache::CacheStore* cache_store) {
  if (limits.max_bytes == 0 && limits.inactive.count() <= 0) return;
  asio::co_spawn(executor, eviction_loop(store, limits, members, cache_store), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("BLOB_STORE: the eviction loop stopped: {}", e.what());
    }
  });
}

ObjectStoreSetup make_object_store(const Config& config, net::UpstreamTls& tls, const net::ResolveOverrides& resolve) {
  ObjectStoreSetup setup;
  auto endpoint = s3::parse_store_location({.blob_store = config.blob_store,
                                            .endpoint = config.s3_endpoint,
                                            .region = config.s3_region,
                                            .path_style = config.s3_path_style});
  if (!endpoint.tls()) {
    // The operator's choice (MinIO inside the cluster's network): SigV4 never sends the secret, and
    // what is read back is verified by its digest, but the bytes and the key ID travel unencrypted.
    spdlog::warn("BLOB_STORE: S3_ENDPOINT {} is plain http: the bucket's traffic is not encrypted", config.s3_endpoint);
  }
  auto key = s3::access_key_from_settings(config.aws_access_key_id, config.aws_secret_access_key,
                                          config.aws_session_token);
  if (!key) throw std::invalid_argument("BLOB_STORE needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  setup.health = std::make_unique<registry::ObjectStoreHealth>();
  setup.store = std::make_unique<registry::ObjectStore>(
      registry::ObjectStore{.endpoint = std::move(endpoint), .key = std::move(*key), .tls = tls, .resolve = resolve,
                            .health = *setup.health});
  return setup;
}

ObjectStoreSetup set_up_object_store(const Config& config, net::UpstreamTls& tls, const net::ResolveOverrides& resolve,
                                     cache::CacheStore* cache, asio::thread_pool& blocking,
                                     const cluster::Members* members) {
  if (config.blob_store.empty()) return {};
  if (!cache) throw std::invalid_argument("BLOB_STORE needs the local cache (CACHE_DIR) in front of the bucket");
  auto setup = make_object_store(config, tls, resolve);
  setup.uploads = std::make_unique<registry::ObjectUploads>(*setup.store, *cache, blocking);
  setup.store->uploads = setup.uploads.get();

  StartupCheck check{.store = *setup.store, .members = members};
  asio::io_context io;
  asio::co_spawn(io, check.run(), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  });
  io.run();
  const auto where = setup.store->endpoint.describe();
  if (!check.fatal.empty()) {
    throw std::runtime_error(fmt::format("BLOB_STORE: {} refused us: {} (check AWS_ACCESS_KEY_ID, "
                                         "AWS_SECRET_ACCESS_KEY and that the bucket exists)",
                                         where, check.fatal));
  }
  if (!check.unreachable.empty()) {
    spdlog::warn("BLOB_STORE: {} is unreachable ({}); pulls go on without it until it answers", where,
                 check.unreachable);
  } else {
    spdlog::info("BLOB_STORE: blobs and manifests by digest are shared through {} (key {}){}", where,
                 setup.store->key.describe(),
                 check.aborted ? fmt::format("; {} unfinished upload(s) aborted", check.aborted) : std::string());
  }
  return setup;
}

}  // namespace pt::app
