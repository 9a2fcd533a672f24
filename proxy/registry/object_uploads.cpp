#include "proxy/registry/object_uploads.hpp"

#include "cache/blob_reader.hpp"
#include "cache/cache_error.hpp"
#include "cache/cache_store.hpp"
#include "cache/index.hpp"
#include "cache/fill.hpp"
#include "cache/tag_record.hpp"
#include "s3/hashing.hpp"
#include "common/deadline.hpp"
#include "common/run_blocking.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/upstream_connection.hpp"
#include "s3/part_plan.hpp"
#include "s3/responses.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <vector>

namespace pt::registry {
namespace {

constexpr std::size_t chunk_size = 1 << 20;

// Sends bytes [offset, offset + length) of the local file, read a chunk at a time on the blocking
// pool (a disk read must not stall the I/O thread's other connections).
StreamedBody file_body(const cache::BlobReader& reader, std::uint64_t offset, std::uint64_t length,
                       asio::thread_pool& blocking) {
  return [&reader, offset, length, &blocking](net::UpstreamConnection& connection) -> asio::awaitable<std::error_code> {
    std::vector<char> chunk(chunk_size);
    for (std::uint64_t done = 0; done < length;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), length - done));
      std::error_code read_ec;
      auto read = [&reader, &chunk, &read_ec, want, at = offset + done] {
        return reader.read_at(at, std::span(chunk.data(), want), read_ec);
      };
      const std::size_t got = co_await run_blocking(blocking, read);
      if (read_ec) co_return read_ec;
      if (got == 0) co_return std::make_error_code(std::errc::io_error);  // the file is shorter than indexed
      if (auto ec = co_await http::write_all(connection.stream(), std::string_view(chunk.data(), got))) co_return ec;
      done += got;
    }
    co_return std::error_code{};
  };
}

// Sends bytes [offset, offset + length) of a fill, which has them all already (stream() waits for a
// whole part before it opens the part's request): a chunk at a time, read from the fill's temporary
// file (the page cache). A fill that fails meanwhile ends the body with its error, which cuts the
// request: the part is never whole.
StreamedBody fill_body(cache::Fill& fill, std::uint64_t offset, std::uint64_t length) {
  return [&fill, offset, length](net::UpstreamConnection& connection) -> asio::awaitable<std::error_code> {
    std::vector<char> chunk(chunk_size);
    for (std::uint64_t done = 0; done < length;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), length - done));
      std::error_code read_ec;
      const std::size_t got = co_await fill.read_some(offset + done, std::span(chunk.data(), want), read_ec);
      if (read_ec) co_return read_ec;
      if (got == 0) co_return std::make_error_code(std::errc::io_error);  // complete, yet shorter than planned
      if (auto ec = co_await http::write_all(connection.stream(), std::string_view(chunk.data(), got))) co_return ec;
      done += got;
    }
    co_return std::error_code{};
  };
}

// Waits until the fill has its first `until` bytes, and with `complete` until it is complete too
// (its length and digest verified). Follows its progress: the deadline moves by `idle` whenever
// bytes arrive, so a slow upstream does not time the upload out while a stalled one does (the fill
// itself fails after its own idle timeout, which ends this wait first). The error is the fill's when
// it failed.
asio::awaitable<std::error_code> wait_for_fill(cache::Fill& fill, std::uint64_t until, std::uint64_t size,
                                               bool complete, Deadline& deadline, std::chrono::milliseconds idle) {
  char byte = 0;
  for (;;) {
    deadline.expires_after(idle);
    const std::uint64_t have = fill.bytes_available();
    if (have >= until && !complete) co_return std::error_code{};
    // One byte at the first offset not there yet: read_some returns as soon as more arrived. At the
    // end it returns 0 once the fill is complete, or the fill's error.
    const std::uint64_t at = std::min(have, size);
    std::error_code ec;
    const std::size_t got = co_await fill.read_some(at, std::span(&byte, 1), ec);
    if (ec) co_return ec;
    if (got == 0) {
      if (at >= size) co_return std::error_code{};
      co_return std::make_error_code(std::errc::io_error);  // complete, yet shorter than planned
    }
  }
}

// CompleteMultipartUpload: empty when the object is made, else why not. A 200 may still carry an
// error in its body (S3 says so for CompleteMultipartUpload).
asio::awaitable<std::string> complete_upload(net::UpstreamConnection& connection, const ObjectStore& store,
                                             const std::string& key, const std::string& upload_id,
                                             const std::vector<s3::CompletedPart>& parts, Deadline& deadline) {
  const auto complete = s3::complete_multipart_upload(store.endpoint, key, upload_id, parts);
  const auto completed = co_await s3_request(connection, store, complete, deadline);
  const auto result = completed.ok && completed.status == 200 ? s3::parse_complete_multipart_upload(completed.body)
                                                              : decltype(s3::parse_complete_multipart_upload(""))::failure("");
  if (result && std::holds_alternative<s3::CompletedUpload>(*result.value)) co_return std::string();
  co_return "complete: " + describe(completed);
}

}  // namespace

bool stream_upload_wanted(cache::RequestKind kind, bool from_bucket, std::optional<std::uint64_t> content_length) {
  if (from_bucket || !content_length) return false;
  if (kind != cache::RequestKind::blob && kind != cache::RequestKind::manifest_by_digest) return false;
  const auto plan = s3::PartPlan::make(content_length);
  return plan && !s3::use_single_put(content_length, *plan);
}

std::optional<UploadJob> UploadBook::submit(UploadJob job) {
  const std::string id = job.id();
  if (auto streamed = streaming_.find(id); streamed != streaming_.end()) {
    if (!streamed->second) streamed->second = std::move(job);  // for when the stream fails
    return std::nullopt;
  }
  if (!in_flight_.insert(id).second) return std::nullopt;  // queued or uploading already
  if (running_ >= concurrency_) {
    waiting_.push_back(std::move(job));
    return std::nullopt;
  }
  ++running_;
  return job;
}

std::optional<UploadJob> UploadBook::finished(const std::string& id) {
  in_flight_.erase(id);
  if (waiting_.empty()) {
    --running_;
    return std::nullopt;
  }
  auto next = std::move(waiting_.front());
  waiting_.pop_front();
  return next;
}

bool UploadBook::begin_stream(const std::string& id) {
  if (streaming_.size() >= stream_limit_ || in_flight_.contains(id)) return false;
  in_flight_.insert(id);
  streaming_.emplace(id, std::nullopt);
  return true;
}

std::optional<UploadJob> UploadBook::end_stream(const std::string& id, bool succeeded) {
  auto streamed = streaming_.find(id);
  if (streamed == streaming_.end()) return std::nullopt;
  std::optional<UploadJob> held = std::move(streamed->second);
  streaming_.erase(streamed);
  in_flight_.erase(id);
  if (succeeded || !held) return std::nullopt;
  return submit(std::move(*held));
}

void ObjectUploads::enqueue(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type) {
  submit(Job{.executor = std::move(executor), .digest = digest, .media_type = std::move(media_type)});
}

void ObjectUploads::enqueue_tag(asio::any_io_executor executor, std::string tag_key) {
  submit(Job{.executor = std::move(executor), .tag_key = std::move(tag_key)});
}

void ObjectUploads::submit(Job job) {
  std::optional<Job> now;
  {
    std::lock_guard lock(mutex_);
    now = book_.submit(std::move(job));
  }
  if (now) start(std::move(*now));
}

void ObjectUploads::start(Job job) {
  auto executor = job.executor;
  auto work = [this, job = std::move(job)]() -> asio::awaitable<void> {
    const bool settled = job.digest ? co_await upload(*job.digest, job.media_type) : co_await upload_tag(job.tag_key);
    if (settled) co_await settle_note(job.id());
    finished(job.id());
  };
  asio::co_spawn(executor, std::move(work), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("BLOB_STORE: an upload threw: {}", e.what());
    }
  });
}

void ObjectUploads::finished(const std::string& id) {
  std::optional<Job> next;
  {
    std::lock_guard lock(mutex_);
    next = book_.finished(id);
  }
  if (next) start(std::move(*next));
}

bool ObjectUploads::start_stream(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type,
                                 std::shared_ptr<cache::Fill> fill, std::uint64_t size, std::chrono::milliseconds idle) {
  {
    std::lock_guard lock(mutex_);
    if (!book_.begin_stream(digest.str())) return false;
  }
  auto work = [this, digest, media_type = std::move(media_type), fill = std::move(fill), size,
               idle]() -> asio::awaitable<void> {
    bool succeeded = false;
    try {
      succeeded = co_await stream(digest, media_type, *fill, size, idle);
      if (succeeded) co_await settle_note(digest.str());
    } catch (const std::exception& e) {
      // Caught here, not in the completion handler: the book must learn that the stream ended.
      spdlog::error("BLOB_STORE: a streaming upload threw: {}", e.what());
    }
    std::optional<Job> held;
    {
      std::lock_guard lock(mutex_);
      held = book_.end_stream(digest.str(), succeeded);
    }
    if (held) start(std::move(*held));
  };
  asio::co_spawn(executor, std::move(work), [](std::exception_ptr error) {
    if (error) spdlog::error("BLOB_STORE: a streaming upload ended with an exception past its own handler");
  });
  return true;
}

std::error_code ObjectUploads::note_pending(cache::CacheStore& cache, const cache::Digest& digest,
                                           std::string_view media_type) {
  return cache.index().add_pending_upload(digest.str(), media_type);
}

std::error_code ObjectUploads::note_pending_tag(cache::CacheStore& cache, std::string_view tag_key) {
  return cache.index().add_pending_upload("tag:" + std::string(tag_key), "");
}

asio::awaitable<void> ObjectUploads::settle_note(const std::string& id) {
  auto& index = cache_.index();
  auto remove = [&index, &id] { return index.remove_pending_upload(id); };
  if (const auto error = co_await run_blocking(blocking_, remove)) {
    spdlog::warn("BLOB_STORE: cannot clear the outbox note of {}: {} (it is sent again later)", id, error.message());
  }
}

std::size_t ObjectUploads::resume_pending(asio::any_io_executor executor, std::size_t limit) {
  {
    std::lock_guard lock(mutex_);
    if (book_.running() > 0 || book_.waiting() > 0) return 0;
  }
  if (store_.health.failed_within(std::chrono::seconds(10))) return 0;
  std::vector<Job> jobs;
  std::vector<std::string> unreadable;
  cache_.index().for_each_pending_upload([&](std::string_view id, std::string_view note) {
    if (id.starts_with("tag:")) {
      jobs.push_back(Job{.executor = executor, .tag_key = std::string(id.substr(4))});
    } else if (auto digest = cache::Digest::parse(id)) {
      jobs.push_back(Job{.executor = executor, .digest = std::move(*digest), .media_type = std::string(note)});
    } else {
      unreadable.emplace_back(id);  // no upload of ours names it so: dropped, never retried
    }
    return jobs.size() < limit;
  });
  for (const auto& id : unreadable) (void)cache_.index().remove_pending_upload(id);
  const std::size_t queued = jobs.size();
  for (auto& job : jobs) submit(std::move(job));
  return queued;
}

void ObjectUploads::start_resuming(asio::any_io_executor executor, std::chrono::seconds first,
                                   std::chrono::seconds every) {
  auto loop = [this, executor, first, every]() -> asio::awaitable<void> {
    asio::steady_timer timer(executor);
    for (auto wait = first;; wait = every) {
      timer.expires_after(wait);
      co_await timer.async_wait(asio::use_awaitable);
      auto resume = [this, &executor] { return resume_pending(executor); };
      if (const auto queued = co_await run_blocking(blocking_, resume)) {
        spdlog::info("BLOB_STORE: {} upload(s) not yet in the bucket queued again", queued);
      }
    }
  };
  asio::co_spawn(executor, std::move(loop), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("BLOB_STORE: resuming uploads stopped: {}", e.what());
    }
  });
}

asio::awaitable<bool> ObjectUploads::upload_tag(const std::string& tag_key) {
  using namespace asio::experimental::awaitable_operators;
  auto read = [&cache = cache_, &tag_key] { return cache.tag(tag_key); };
  const std::optional<cache::TagRecord> record = co_await run_blocking(blocking_, read);
  if (!record) co_return true;  // dropped meanwhile: nothing to send, and nothing wrong
  const std::string body = cache::encode_tag_record(*record);
  auto spec = s3::put_object(store_.endpoint, tag_object_key(tag_key), body.size(), s3::sha256_hex(body),
                             "application/json");
  spec.body = body;
  net::UpstreamConnection connection(store_.tls, store_.resolve);
  Deadline deadline;
  S3Answer answer;
  auto put = [&]() -> asio::awaitable<void> { answer = co_await s3_request(connection, store_, spec, deadline); };
  co_await (put() || deadline.watchdog());
  connection.close();
  if (answer.ok && answer.status / 100 == 2) co_return true;
  store_.health.failed(fmt::format("upload of the record of {} failed: {}", tag_key, describe(answer)));
  co_return false;
}

asio::awaitable<bool> ObjectUploads::upload(const cache::Digest& digest, const std::string& media_type) {
  using namespace asio::experimental::awaitable_operators;
  auto& blobs = cache_.blobs();
  auto open = [&blobs, &digest] {
    std::error_code ec;
    return blobs.open(digest, ec);
  };
  const std::optional<cache::BlobReader> reader = co_await run_blocking(blocking_, open);
  if (!reader) co_return true;  // evicted already: nothing to send, and nothing wrong

  net::UpstreamConnection connection(store_.tls, store_.resolve);
  Deadline deadline;
  const std::string key = object_key(digest);
  const std::uint64_t size = reader->size();
  const std::string type = media_type.empty() ? std::string("application/octet-stream") : media_type;
  bool done = false;
  bool already_there = false;

  auto steps = [&]() -> asio::awaitable<void> {
    // Another replica may have sent it: content-addressed, so the same bytes.
    // Every request spec is named before its co_await: GCC 12 destroys temporaries in a co_await
    // expression twice.
    const auto head = s3::head_object(store_.endpoint, key);
    const auto existing = co_await s3_request(connection, store_, head, deadline);
    // A copy known to be corrupt is replaced: this fill's bytes verified, the bucket's did not.
    if (existing.ok && existing.status == 200 && !store_.health.known_corrupt(digest)) {
      done = true;
      already_there = true;  // not an upload: the counters say what was sent
      co_return;
    }
    const auto plan = s3::PartPlan::make(size);
    if (!plan) {
      store_.health.failed(fmt::format("{} ({} bytes) is too large for the bucket", digest.str(), size));
      co_return;
    }
    if (s3::use_single_put(size, *plan)) {
      const auto body = file_body(*reader, 0, size, blocking_);
      // Signed with the blob's SHA-256 (its digest): the bucket refuses a body that is not it.
      const auto put = s3::put_object(store_.endpoint, key, size, digest.hex(), type);
      const auto answer = co_await s3_request(connection, store_, put, deadline, &body);
      if (answer.ok && answer.status / 100 == 2) {
        done = true;
      } else {
        store_.health.failed(fmt::format("upload of {} failed: {}", digest.str(), describe(answer)));
      }
      co_return;
    }
    const auto create = s3::create_multipart_upload(store_.endpoint, key, type);
    const auto created = co_await s3_request(connection, store_, create, deadline);
    const auto upload_id = created.ok && created.status == 200 ? s3::parse_initiate_multipart_upload(created.body)
                                                               : ParseResult<std::string>::failure("");
    if (!upload_id) {
      store_.health.failed(fmt::format("upload of {} could not start: {}", digest.str(), describe(created)));
      co_return;
    }
    std::vector<s3::CompletedPart> parts;
    std::string failure;
    for (std::uint32_t number = 1; failure.empty(); ++number) {
      const auto part = plan->part(number, size);
      if (!part) break;
      const auto body = file_body(*reader, part->offset, part->length, blocking_);
      const auto spec = s3::upload_part(store_.endpoint, key, *upload_id, number, part->length);
      const auto answer = co_await s3_request(connection, store_, spec, deadline, &body);
      const auto etag = answer.headers.get("ETag");
      if (!answer.ok || answer.status != 200 || !etag) {
        failure = fmt::format("part {}: {}", number, describe(answer));
      } else {
        parts.push_back({.part_number = number, .etag = std::string(*etag)});
      }
    }
    if (failure.empty()) {
      failure = co_await complete_upload(connection, store_, key, *upload_id, parts, deadline);
      if (failure.empty()) {
        done = true;
        co_return;
      }
    }
    store_.health.failed(fmt::format("upload of {} failed ({}); aborted", digest.str(), failure));
    // Never left half-made: the parts cost storage, and a crash's leftovers are aborted at start-up.
    const auto abort = s3::abort_multipart_upload(store_.endpoint, key, *upload_id);
    const auto aborted = co_await s3_request(connection, store_, abort, deadline);
    (void)aborted;  // best effort: start-up aborts what is left
  };
  co_await (steps() || deadline.watchdog());
  connection.close();
  if (done && !already_there) {
    store_.health.uploaded(size);
    spdlog::debug("BLOB_STORE: {} ({} bytes) is in the bucket", digest.str(), size);
  }
  co_return done;
}

asio::awaitable<bool> ObjectUploads::stream(const cache::Digest& digest, const std::string& media_type,
                                            cache::Fill& fill, std::uint64_t size, std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  net::UpstreamConnection connection(store_.tls, store_.resolve);
  Deadline deadline;
  const std::string key = object_key(digest);
  const std::string type = media_type.empty() ? std::string("application/octet-stream") : media_type;
  // Waits for the fill end when it gives up: a little later than its own idle timeout, so a stalled
  // upstream ends the fill (and so this upload, as the fill's failure) before our watchdog does.
  const auto follow = idle + std::chrono::seconds(10);
  bool done = false;
  bool already_there = false;
  std::optional<std::string> upload_id;
  std::string failure;         // the bucket's: counted and logged by its health
  std::error_code fill_error;  // the fill's: upstream's or the disk's, not the bucket's

  auto steps = [&]() -> asio::awaitable<void> {
    // Every request spec and body is named before its co_await: GCC 12 destroys temporaries in a
    // co_await expression twice.
    const auto head = s3::head_object(store_.endpoint, key);
    const auto existing = co_await s3_request(connection, store_, head, deadline);
    // Another replica's fill sent it (content-addressed: the same bytes), unless that copy is known
    // to be corrupt: this fill's bytes will be verified, the bucket's were not.
    if (existing.ok && existing.status == 200 && !store_.health.known_corrupt(digest)) {
      done = true;
      already_there = true;
      co_return;
    }
    const auto plan = s3::PartPlan::make(size);
    if (!plan) {
      failure = fmt::format("{} bytes is too large for the bucket", size);
      co_return;
    }
    const auto create = s3::create_multipart_upload(store_.endpoint, key, type);
    const auto created = co_await s3_request(connection, store_, create, deadline);
    auto id = created.ok && created.status == 200 ? s3::parse_initiate_multipart_upload(created.body)
                                                  : ParseResult<std::string>::failure("");
    if (!id) {
      failure = "could not start: " + describe(created);
      co_return;
    }
    upload_id = *id.value;
    std::vector<s3::CompletedPart> parts;
    for (std::uint32_t number = 1;; ++number) {
      const auto part = plan->part(number, size);
      if (!part) break;
      // The part is sent once the fill has all of it, from the fill's file: no part is held in
      // memory, and no request to the bucket idles while upstream is slow (S3 cuts a request
      // whose body pauses for about 20 s), so the connection is busy only at the disk's pace.
      if (auto ec = co_await wait_for_fill(fill, part->offset + part->length, size, false, deadline, follow)) {
        fill_error = ec;
        co_return;
      }
      const auto body = fill_body(fill, part->offset, part->length);
      const auto spec = s3::upload_part(store_.endpoint, key, *upload_id, number, part->length);
      const auto answer = co_await s3_request(connection, store_, spec, deadline, &body);
      const auto etag = answer.headers.get("ETag");
      if (!answer.ok || answer.status != 200 || !etag) {
        if (fill.state() == cache::Fill::State::failed) {
          fill_error = make_error_code(cache::CacheErrc::fill_failed);  // the body was cut by the fill
        } else {
          failure = fmt::format("part {}: {}", number, describe(answer));
        }
        co_return;
      }
      parts.push_back({.part_number = number, .etag = std::string(*etag)});
    }
    // Every byte was sent; the object is made only once the fill verified them (length, digest).
    if (auto ec = co_await wait_for_fill(fill, size, size, true, deadline, follow)) {
      fill_error = ec;
      co_return;
    }
    failure = co_await complete_upload(connection, store_, key, *upload_id, parts, deadline);
    done = failure.empty();
  };
  co_await (steps() || deadline.watchdog());
  if (!done && failure.empty() && !fill_error) {  // the watchdog ended it
    if (fill.state() == cache::Fill::State::failed) {
      fill_error = make_error_code(cache::CacheErrc::fill_failed);
    } else {
      failure = "timed out";
    }
  }
  if (!done && upload_id) {
    // Never left half-made: the parts cost storage (start-up aborts what a crash leaves). On a new
    // connection: the old one may be in the middle of a part the fill cut.
    connection.close();
    Deadline abort_deadline;
    auto abort = [&]() -> asio::awaitable<void> {
      const auto spec = s3::abort_multipart_upload(store_.endpoint, key, *upload_id);
      const auto aborted = co_await s3_request(connection, store_, spec, abort_deadline);
      (void)aborted;  // best effort, as above
    };
    co_await (abort() || abort_deadline.watchdog());
  }
  connection.close();
  if (done && !already_there) {
    store_.health.uploaded(size);
    spdlog::debug("BLOB_STORE: {} ({} bytes) is in the bucket, streamed during its fill", digest.str(), size);
  } else if (!failure.empty()) {
    store_.health.failed(fmt::format("upload of {} (streamed during its fill) failed ({}){}", digest.str(), failure,
                                     upload_id ? "; aborted" : ""));
  } else if (fill_error) {
    spdlog::debug("BLOB_STORE: streaming upload of {} aborted: its fill failed ({})", digest.str(),
                  fill_error.message());
  }
  co_return done;
}

}  // namespace pt::registry
