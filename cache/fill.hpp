#pragma once
// A shared streaming fill: one upstream download written to a temporary file while any number of
// clients read it, each at its own pace, attaching at any time (even after most of it arrived).
//
// Writer side (FillWriter, exactly one): publish_response() once upstream's headers are known,
// append() each body chunk, then finish() (verifies length and digest), or fail(). append() only
// write()s to the page cache, so it is fine on an I/O thread; making the blob durable
// (FillWriter::sync/publish, via CacheStore::commit_fill) blocks and belongs on a thread pool.
//
// Reader side (Fill, shared): wait_response() for the headers, then read_some() from any offset.
// Readers pread() the temporary file through a descriptor the Fill keeps open for as long as any
// reader holds the Fill, so they are unaffected when the file is renamed into the store, or
// deleted after a failure, or evicted. A reader going away never affects the writer or the others.
//
// If the writer's own client disconnects, the writer should keep downloading: readers may be
// attached, and the next pull wants the blob anyway. Every FillWriter ends its fill (its
// destructor fails an unfinished one), so readers never wait forever.
//
// The writer relays upstream's bytes to its own client directly, not through the file: if the disk
// fills up (ENOSPC) the fill fails (readers get the error and may fall back to their own upstream
// request, e.g. with a Range from where they stopped) while the writer's client is unaffected.
// A completed fill means the bytes are verified; only then do readers see end-of-file. A fill that
// fails after readers got some bytes gives them an error, never a clean end, so their clients see
// a truncated transfer rather than wrong content.
#include "cache/blob_writer.hpp"
#include "cache/index_entry.hpp"
#include "cache/unique_fd.hpp"
#include "common/notifier.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>

namespace pt::cache {

// What upstream answered, published before the body so readers can send their own headers.
struct FillResponse {
  std::string media_type;
  Headers headers;                              // the replayed subset (see is_replayed_header)
  std::optional<std::uint64_t> content_length;  // body must be exactly this long when given
  std::optional<Digest> expected_digest;        // from the URL or Docker-Content-Digest
};

class Fill {
public:
  enum class State { awaiting_response, streaming, complete, failed };

  const std::string& key() const noexcept { return key_; }
  State state() const;
  std::uint64_t bytes_available() const;
  std::optional<Digest> digest() const;  // once complete

  // Waits for the response headers; nullopt with `ec` set if the fill failed first (e.g. upstream
  // answered 404: the reader should then ask upstream itself).
  asio::awaitable<std::optional<FillResponse>> wait_response(std::error_code& ec);

  // Copies bytes at `offset` into `out`, waiting until some are available. Returns 0 at the end of
  // a complete fill; returns 0 with `ec` set if the fill failed (even if bytes remained).
  asio::awaitable<std::size_t> read_some(std::uint64_t offset, std::span<char> out,
                                         std::error_code& ec);

private:
  friend class FillWriter;
  friend class FillRegistry;
  Fill(std::string key, UniqueFd read_fd) : key_(std::move(key)), read_fd_(std::move(read_fd)) {}

  // Runs the registry's removal hook once, when the fill can no longer gain readers usefully.
  void settle();

  const std::string key_;
  const UniqueFd read_fd_;
  mutable std::mutex mutex_;
  State state_ = State::awaiting_response;
  std::optional<FillResponse> response_;
  std::uint64_t written_ = 0;
  std::optional<Digest> digest_;
  std::error_code error_;
  std::function<void()> on_settled_;
  Notifier changed_;
};

class FillWriter {
public:
  FillWriter(std::shared_ptr<Fill> fill, BlobWriter blob);
  FillWriter(FillWriter&&) noexcept = default;
  FillWriter& operator=(FillWriter&&) = delete;
  ~FillWriter();  // an unfinished fill fails with fill_abandoned; the fill leaves the registry

  Fill& fill() const noexcept { return *fill_; }
  // The fill shared, for a reader that outlives the writer's request (BLOB_STORE's streaming
  // upload follows the fill to its end, which may come after this writer's client left).
  std::shared_ptr<Fill> shared_fill() const noexcept { return fill_; }

  void publish_response(FillResponse response);

  // Writes a body chunk. On failure (ENOSPC, too many bytes) the fill fails and the error is
  // returned; the writer should keep relaying to its own client but stop appending.
  std::error_code append(std::span<const char> bytes);

  // The body ended: checks Content-Length and the expected digest. Success completes the fill.
  std::error_code finish();

  // Fails the fill (upstream error, disconnect, not cacheable). No-op once finished.
  void fail(std::error_code reason);

  // For CacheStore::commit_fill (blocking): fsync, then rename into the store under the digest.
  std::error_code sync();
  std::error_code publish();

  // Removes the fill from its registry (after it was indexed, or when it is not to be stored).
  void settle() { fill_->settle(); }

  const FillResponse& response() const;  // valid after publish_response
  std::uint64_t size() const noexcept { return blob_.bytes_written(); }

private:
  std::shared_ptr<Fill> fill_;
  BlobWriter blob_;
};

}  // namespace pt::cache
