#pragma once
// BLOB_STORE: content a fill verified and committed to the local cache goes to the bucket in the
// background, read back from the local file, so nothing unverified is ever readable under a
// digest's key: a single PUT for small objects, a multipart upload of fixed-size parts (memory
// bounded: one chunk at a time) for large ones, aborted when any step fails. An object the bucket
// already holds (another replica's fill) is not sent again. At most a few uploads run at once; the
// rest wait their turn, and one digest is never uploaded twice at the same time.
#include "cache/digest.hpp"
#include "proxy/registry/object_store.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace pt::cache {
class CacheStore;
}  // namespace pt::cache

namespace pt::registry {

class ObjectUploads {
public:
  ObjectUploads(const ObjectStore& store, cache::CacheStore& cache, asio::thread_pool& blocking,
                std::size_t concurrency = 2)
      : store_(store), cache_(cache), blocking_(blocking), concurrency_(concurrency) {}

  // `digest` was committed to the local cache: upload it, on `executor` (an I/O thread's).
  void enqueue(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type);
  // The tag record `tag_key` gained a variant: the bucket gets the record as it is then, so a
  // replica with an empty disk can serve the tag while the registry is away.
  void enqueue_tag(asio::any_io_executor executor, std::string tag_key);

private:
  // The queue's worker: one object, or one tag record, now. False when it failed (counted and
  // logged by the store's health).
  asio::awaitable<bool> upload(const cache::Digest& digest, const std::string& media_type);
  asio::awaitable<bool> upload_tag(const std::string& tag_key);

  struct Job {
    asio::any_io_executor executor;
    std::optional<cache::Digest> digest;  // content, or
    std::string tag_key;                  // a tag record
    std::string media_type;
    std::string id() const { return digest ? digest->str() : "tag:" + tag_key; }
  };
  void submit(Job job);
  void start(Job job);
  void finished(const std::string& id);

  const ObjectStore& store_;
  cache::CacheStore& cache_;
  asio::thread_pool& blocking_;
  const std::size_t concurrency_;
  std::mutex mutex_;
  std::size_t running_ = 0;
  std::deque<Job> waiting_;
  std::set<std::string> in_flight_;  // digests queued or uploading
};

}  // namespace pt::registry
