#include "proxy/registry/object_store_eviction.hpp"

#include "common/deadline.hpp"
#include "proxy/net/upstream_connection.hpp"
#include "s3/responses.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace pt::registry {

asio::awaitable<BucketEviction> evict_bucket(const ObjectStore& store, std::uint64_t max_bytes,
                                             const cluster::Members* members) {
  using namespace asio::experimental::awaitable_operators;
  BucketEviction result;
  net::UpstreamConnection connection(store.tls, store.resolve);
  Deadline deadline;

  auto run = [&]() -> asio::awaitable<void> {
    std::vector<s3::ObjectEntry> objects;
    std::string token;
    for (;;) {
      // Named before co_await: GCC 12 destroys temporaries in a co_await expression twice.
      const auto spec = s3::list_objects_v2(store.endpoint, {.prefix = "blobs/", .continuation_token = token});
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
        result.bytes += entry.size;
        objects.push_back(std::move(entry));
      }
      if (!page->is_truncated) break;
      token = page->next_continuation_token;
    }
    result.objects = objects.size();
    if (result.bytes <= max_bytes) co_return;
    // Oldest first, the key breaking ties: every replica computes the same order.
    std::sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
      return a.last_modified != b.last_modified ? a.last_modified < b.last_modified : a.key < b.key;
    });
    std::uint64_t remaining = result.bytes;
    for (const auto& object : objects) {
      if (remaining <= max_bytes) break;
      remaining -= object.size;  // a victim, whoever deletes it
      const auto relative = store.endpoint.relative_key(object.key);
      if (!relative) continue;
      if (!owns_object(members, *relative)) continue;
      const auto spec = s3::delete_object(store.endpoint, *relative);
      const auto deleted = co_await s3_request(connection, store, spec, deadline);
      if (deleted.ok && deleted.status / 100 == 2) {
        ++result.deleted;
        result.deleted_bytes += object.size;
      } else {
        result.error = deleted.ok ? fmt::format("DELETE {} answered {}", *relative, deleted.status) : deleted.error;
        co_return;
      }
    }
  };
  co_await (run() || deadline.watchdog());
  connection.close();
  co_return result;
}

}  // namespace pt::registry
