#include "proxy/registry/object_store_eviction.hpp"

#include "common/deadline.hpp"
#include "proxy/net/upstream_connection.hpp"
#include "s3/responses.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <string_view>
#include <unordered_set>
#include <vector>

namespace pt::registry {

asio::awaitable<BucketEviction> evict_bucket(const ObjectStore& store, const BucketEvictionRequest& request) {
  using namespace asio::experimental::awaitable_operators;
  BucketEviction result;
  net::UpstreamConnection connection(store.tls, store.resolve);
  Deadline deadline;

  auto run = [&]() -> asio::awaitable<void> {
    std::vector<cache::BucketObject> objects;
    std::unordered_set<std::string> listed;
    // Content by digest, then tag records: both are dropped by the same rule, each by its own key.
    for (const std::string_view prefix : {"blobs/", "tags/"}) {
      std::string token;
      for (;;) {
        // Named before co_await: GCC 12 destroys temporaries in a co_await expression twice.
        const auto spec = s3::list_objects_v2(store.endpoint, {.prefix = std::string(prefix), .continuation_token = token});
        const auto answer = co_await s3_request(connection, store, spec, deadline);
        if (!answer.ok || answer.status != 200) {
          result.error = answer.ok ? fmt::format("listing answered {}", answer.status) : answer.error;
          co_return;
        }
        auto page = s3::parse_list_objects_v2(answer.body);
        if (!page) {
          result.error = "unreadable listing: " + page.error;
          co_return;
        }
        for (auto& entry : page->objects) {
          ++result.objects;
          result.bytes += entry.size;
          const auto relative = store.endpoint.relative_key(entry.key);
          if (!relative) continue;
          cache::BucketObject object{.key = std::string(*relative),
                                     .size = entry.size,
                                     .uploaded = std::chrono::time_point_cast<std::chrono::seconds>(entry.last_modified),
                                     .owned = owns_object(request.members, *relative)};
          if (request.last_used) {
            if (const auto used = request.last_used->find(object.key); used != request.last_used->end()) {
              object.last_used = used->second;
            }
          }
          listed.insert(object.key);
          objects.push_back(std::move(object));
        }
        if (!page->is_truncated) break;
        token = page->next_continuation_token;
      }
    }
    if (request.last_used) {
      for (const auto& [key, when] : *request.last_used) {
        if (!listed.contains(key)) result.gone.push_back(key);
      }
    }
    const auto victims = cache::bucket_victims(std::move(objects), request.limits, request.now);
    for (const auto& victim : victims) {
      const auto spec = s3::delete_object(store.endpoint, victim.key);
      const auto deleted = co_await s3_request(connection, store, spec, deadline);
      if (deleted.ok && deleted.status / 100 == 2) {
        ++result.deleted;
        result.deleted_bytes += victim.size;
        if (victim.last_used) result.gone.push_back(victim.key);
      } else {
        result.error = deleted.ok ? fmt::format("DELETE {} answered {}", victim.key, deleted.status) : deleted.error;
        co_return;
      }
    }
  };
  co_await (run() || deadline.watchdog());
  connection.close();
  co_return result;
}

}  // namespace pt::registry
