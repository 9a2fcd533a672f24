#pragma once
// BLOB_STORE: content a fill verified and committed to the local cache goes to the bucket in the
// background, read back from the local file, so nothing unverified is ever readable under a
// digest's key: a single PUT for small objects, a multipart upload of fixed-size parts (memory
// bounded: one chunk at a time) for large ones, aborted when any step fails. An object the bucket
// already holds (another replica's fill) is not sent again. At most a few uploads run at once; the
// rest wait their turn, and one digest is never uploaded twice at the same time.
//
// What is to be uploaded is noted in the cache index's outbox when it is committed (the same
// blocking step), and the note removed once the bucket has it. A crash, an outage of the bucket
// or a failed upload leaves the note; resume_pending() sends what the notes name again.
#include "cache/digest.hpp"
#include "proxy/registry/object_store.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

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

  // The outbox notes of a commit (blocking: call on the pool, right after the commit), and the
  // ids they use.
  static std::error_code note_pending(cache::CacheStore& cache, const cache::Digest& digest, std::string_view media_type);
  static std::error_code note_pending_tag(cache::CacheStore& cache, std::string_view tag_key);

  // Queues what the outbox names, up to `limit`, when no upload is running or waiting (fresh
  // fills go first; an outage's backlog never crowds them out). Blocking (it reads the index):
  // call it on the pool. Returns how many were queued.
  std::size_t resume_pending(asio::any_io_executor executor, std::size_t limit = 256);
  // resume_pending() at start (after `first`) and every `every`, on `executor`, until it stops.
  void start_resuming(asio::any_io_executor executor, std::chrono::seconds first = std::chrono::seconds(5),
                      std::chrono::seconds every = std::chrono::seconds(60));

private:
  // The queue's worker: one object, or one tag record, now. False when it failed (counted and
  // logged by the store's health); true when the bucket has it or there is nothing to send.
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
  // The bucket has it, or there is nothing to send (evicted locally): the note goes.
  asio::awaitable<void> settle_note(const std::string& id);

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
