#pragma once
// BLOB_STORE: how content gets into the bucket, so that nothing unverified is ever readable under a
// digest's key.
//
// Large content of known length a fill fetches from upstream is streamed (start_stream): a multipart
// upload follows the fill as one more reader, part by part while the client is still receiving, and
// is completed only once the fill verified its length and digest; aborted when the fill fails or
// is cut, or when any S3 step fails.
//
// Everything else (small objects, a single PUT signed with the digest; tag records; content whose
// stream could not run) goes after the fill verified and committed it to the local cache, read back
// from the local file: the post-commit queue (enqueue). At most a few of those run at once; the
// rest wait their turn, and one digest is never uploaded twice at the same time, by either path.
// An object the bucket already holds (another replica's fill) is not sent again.
//
// What is to be uploaded is noted in the cache index's outbox when it is committed (the same
// blocking step), and the note removed once the bucket has it. A crash, an outage of the bucket
// or a failed upload leaves the note; resume_pending() sends what the notes name again. (A stream
// that ends before the commit notes its content leaves a note behind: the next resume finds the
// object with one HEAD and removes it.)
#include "cache/digest.hpp"
#include "cache/registry_request.hpp"
#include "proxy/registry/object_store.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

namespace pt::cache {
class CacheStore;
class Fill;
}  // namespace pt::cache

namespace pt::registry {

// Whether a fill's content goes to the bucket while it is being fetched (a streaming upload) rather
// than after it was committed: content addressed by digest, of known length, large enough for a
// multipart upload, and not fetched from the bucket itself (`from_bucket`: it is there already).
// A single PUT (small content) cannot start before the bytes are verified: its one request is the
// object, so it keeps the post-commit path.
bool stream_upload_wanted(cache::RequestKind kind, bool from_bucket, std::optional<std::uint64_t> content_length);

// One upload for the post-commit queue: content by digest, or a tag record.
struct UploadJob {
  asio::any_io_executor executor;
  std::optional<cache::Digest> digest;  // content, or
  std::string tag_key;                  // a tag record
  std::string media_type;
  std::string id() const { return digest ? digest->str() : "tag:" + tag_key; }
};

// The bookkeeping of both paths, pure (the caller locks and runs the jobs): which queued uploads
// start, wait or are dropped as duplicates, and which are held back while a streaming upload of the
// same digest runs.
class UploadBook {
public:
  UploadBook(std::size_t concurrency, std::size_t stream_limit)
      : concurrency_(concurrency), stream_limit_(stream_limit) {}

  // A post-commit upload: returned when it is to start now; otherwise it waits for a worker, or is
  // dropped (the same one is queued or running), or is held until the streaming upload of its
  // digest ends (and runs only if that one failed: the local file gets its chance).
  std::optional<UploadJob> submit(UploadJob job);
  // A queue worker is done with `id`: the next job to start, if any.
  std::optional<UploadJob> finished(const std::string& id);

  // A streaming upload of `id` may start: false when the digest is queued or uploading already, or
  // too many streams run (the fill's content then takes the post-commit path).
  bool begin_stream(const std::string& id);
  // The streaming upload of `id` ended: the held post-commit upload to start now, when the stream
  // did not put the object in the bucket.
  std::optional<UploadJob> end_stream(const std::string& id, bool succeeded);

  std::size_t running() const { return running_; }
  std::size_t waiting() const { return waiting_.size(); }
  std::size_t streaming() const { return streaming_.size(); }

private:
  const std::size_t concurrency_;
  const std::size_t stream_limit_;
  std::size_t running_ = 0;
  std::deque<UploadJob> waiting_;
  std::set<std::string> in_flight_;                            // queued or uploading (either path)
  std::map<std::string, std::optional<UploadJob>> streaming_;  // streaming, and the post-commit upload held back
};

class ObjectUploads {
public:
  // `stream_limit`: streaming uploads at once. They follow fills, so they are not the queue's
  // `concurrency`; but a burst of cold pulls may start many large fills together, and each stream
  // holds a bucket connection and a chunk buffer for as long as its fill lasts. Past the limit a
  // fill's content waits for the post-commit queue instead: it reaches the bucket later, never not.
  ObjectUploads(const ObjectStore& store, cache::CacheStore& cache, asio::thread_pool& blocking,
                std::size_t concurrency = 2, std::size_t stream_limit = 8)
      : store_(store), cache_(cache), blocking_(blocking), book_(concurrency, stream_limit) {}

  // `digest` was committed to the local cache: upload it, on `executor` (an I/O thread's).
  void enqueue(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type);
  // A fill of `digest` (`size` bytes, known from its Content-Length) began: upload it as it arrives,
  // on `executor`, following the fill's progress with `idle` as the longest wait for more bytes.
  // False when it is not streamed (another upload of it runs, or too many streams do): the
  // post-commit enqueue then uploads it.
  bool start_stream(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type,
                    std::shared_ptr<cache::Fill> fill, std::uint64_t size, std::chrono::milliseconds idle);
  // The tag record `tag_key` gained a variant: the bucket gets the record as it is then, so a
  // replica with an empty disk can serve the tag while the registry is away.
  void enqueue_tag(asio::any_io_executor executor, std::string tag_key);

  // The outbox notes of a commit (blocking: call on the pool, right after the commit).
  static std::error_code note_pending(cache::CacheStore& cache, const cache::Digest& digest, std::string_view media_type);
  static std::error_code note_pending_tag(cache::CacheStore& cache, std::string_view tag_key);

  // Queues what the outbox names, up to `limit`, when no post-commit upload is running or waiting
  // and the bucket has not failed for a while (fresh fills go first, and an outage's backlog is
  // not thrown at a bucket that is still down). Blocking (it reads the index): call it on the
  // pool. Returns how many were queued.
  std::size_t resume_pending(asio::any_io_executor executor, std::size_t limit = 64);
  // resume_pending() at start (after `first`) and every `every`, on `executor`, until it stops.
  void start_resuming(asio::any_io_executor executor, std::chrono::seconds first = std::chrono::seconds(5),
                      std::chrono::seconds every = std::chrono::seconds(10));

private:
  // The queue's worker: one object, or one tag record, now. False when it failed (counted and
  // logged by the store's health); true when the bucket has it or there is nothing to send.
  asio::awaitable<bool> upload(const cache::Digest& digest, const std::string& media_type);
  asio::awaitable<bool> upload_tag(const std::string& tag_key);
  // The streaming worker: true when the object is in the bucket (sent, or there already).
  asio::awaitable<bool> stream(const cache::Digest& digest, const std::string& media_type, cache::Fill& fill,
                               std::uint64_t size, std::chrono::milliseconds idle);

  using Job = UploadJob;
  void submit(Job job);
  void start(Job job);
  void finished(const std::string& id);
  // The bucket has `id`, or there is nothing to send (evicted locally): its outbox note goes.
  asio::awaitable<void> settle_note(const std::string& id);

  const ObjectStore& store_;
  cache::CacheStore& cache_;
  asio::thread_pool& blocking_;
  std::mutex mutex_;
  UploadBook book_;
};

}  // namespace pt::registry
