#include "proxy/registry/object_uploads.hpp"

#include "cache/blob_reader.hpp"
#include "cache/cache_store.hpp"
#include "cache/index.hpp"
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


}  // namespace

void ObjectUploads::enqueue(asio::any_io_executor executor, const cache::Digest& digest, std::string media_type) {
  submit(Job{.executor = std::move(executor), .digest = digest, .media_type = std::move(media_type)});
}

void ObjectUploads::enqueue_tag(asio::any_io_executor executor, std::string tag_key) {
  submit(Job{.executor = std::move(executor), .tag_key = std::move(tag_key)});
}

void ObjectUploads::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!in_flight_.insert(job.id()).second) return;  // queued or uploading already
    if (running_ >= concurrency_) {
      waiting_.push_back(std::move(job));
      return;
    }
    ++running_;
  }
  start(std::move(job));
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
    in_flight_.erase(id);
    if (waiting_.empty()) {
      --running_;
    } else {
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
  }
  if (next) start(std::move(*next));
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
    if (running_ > 0 || !waiting_.empty()) return 0;
  }
  std::vector<Job> jobs;
  std::vector<std::string> unreadable;
  cache_.index().for_each_pending_upload([&](std::string_view id, std::string_view note) {
    if (id.starts_with("tag:")) {
      jobs.push_back(Job{.executor = executor, .tag_key = std::string(id.substr(4))});
    } else if (auto digest = cache::Digest::parse(id)) {
      jobs.push_back(Job{.executor = executor, .digest = std::move(*digest), .media_type = std::string(note)});
    } else {
      unreadable.emplace_back(id);  // not ours to send (a note of another release?): never retried
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
      const auto complete = s3::complete_multipart_upload(store_.endpoint, key, *upload_id, parts);
      const auto completed = co_await s3_request(connection, store_, complete, deadline);
      // A 200 may still carry an error in its body (S3 says so for CompleteMultipartUpload).
      const auto result = completed.ok && completed.status == 200 ? s3::parse_complete_multipart_upload(completed.body)
                                                                  : decltype(s3::parse_complete_multipart_upload(""))::failure("");
      if (result && std::holds_alternative<s3::CompletedUpload>(*result.value)) {
        done = true;
        co_return;
      }
      failure = "complete: " + describe(completed);
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

}  // namespace pt::registry
