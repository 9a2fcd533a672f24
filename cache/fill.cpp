#include "cache/fill.hpp"

#include "cache/cache_error.hpp"
#include "cache/file_io.hpp"

#include <asio/error.hpp>
#include <asio/this_coro.hpp>

namespace pt::cache {
Fill::State Fill::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::uint64_t Fill::bytes_available() const {
  std::lock_guard lock(mutex_);
  return written_;
}

std::optional<Digest> Fill::digest() const {
  std::lock_guard lock(mutex_);
  return digest_;
}

void Fill::settle() {
  std::function<void()> hook;
  {
    std::lock_guard lock(mutex_);
    hook = std::exchange(on_settled_, nullptr);
  }
  if (hook) hook();
}

asio::awaitable<std::optional<FillResponse>> Fill::wait_response(std::error_code& ec) {
  ec.clear();
  for (;;) {
    const auto seen = changed_.generation();
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::failed) {
        ec = error_;
        co_return std::nullopt;
      }
      if (response_) co_return *response_;
    }
    co_await changed_.wait_past(seen);
    // A waiter woken by its own cancellation (a timeout, a closed connection) stops waiting.
    // Read as a state, not awaited as a coroutine: awaiting would throw operation_aborted.
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      ec = asio::error::operation_aborted;
      co_return std::nullopt;
    }
  }
}

asio::awaitable<std::size_t> Fill::read_some(std::uint64_t offset, std::span<char> out,
                                             std::error_code& ec) {
  ec.clear();
  if (out.empty()) co_return 0;
  for (;;) {
    const auto seen = changed_.generation();
    std::size_t wanted = 0;
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::failed) {
        ec = error_;
        co_return 0;
      }
      if (offset < written_) {
        wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), written_ - offset));
      } else if (state_ == State::complete) {
        co_return 0;
      }
    }
    if (wanted > 0) {
      // Bytes below written_ are already in the file (the page cache): no waiting on the disk.
      co_return read_at(read_fd_.get(), offset, out.first(wanted), ec);
    }
    co_await changed_.wait_past(seen);
    // A waiter woken by its own cancellation (a timeout, a closed connection) stops waiting.
    // Read as a state, not awaited as a coroutine: awaiting would throw operation_aborted.
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      ec = asio::error::operation_aborted;
      co_return 0;
    }
  }
}

FillWriter::FillWriter(std::shared_ptr<Fill> fill, BlobWriter blob)
    : fill_(std::move(fill)), blob_(std::move(blob)) {}

FillWriter::~FillWriter() {
  if (!fill_) return;  // moved from
  fail(make_error_code(CacheErrc::fill_abandoned));
  fill_->settle();
}

void FillWriter::publish_response(FillResponse response) {
  {
    std::lock_guard lock(fill_->mutex_);
    if (fill_->state_ != Fill::State::awaiting_response) return;
    fill_->response_ = std::move(response);
    fill_->state_ = Fill::State::streaming;
  }
  fill_->changed_.notify_all();
}

const FillResponse& FillWriter::response() const {
  std::lock_guard lock(fill_->mutex_);
  return *fill_->response_;
}

std::error_code FillWriter::append(std::span<const char> bytes) {
  std::optional<std::uint64_t> limit;
  {
    std::lock_guard lock(fill_->mutex_);
    if (fill_->state_ == Fill::State::failed) return fill_->error_;
    if (fill_->state_ != Fill::State::streaming) return make_error_code(CacheErrc::fill_failed);
    limit = fill_->response_->content_length;
  }
  if (limit && blob_.bytes_written() + bytes.size() > *limit) {
    const auto error = make_error_code(CacheErrc::size_mismatch);
    fail(error);
    return error;
  }
  if (auto error = blob_.write(bytes)) {
    fail(error);
    return error;
  }
  {
    std::lock_guard lock(fill_->mutex_);
    fill_->written_ = blob_.bytes_written();
  }
  fill_->changed_.notify_all();
  return {};
}

std::error_code FillWriter::finish() {
  std::optional<FillResponse> response;
  {
    std::lock_guard lock(fill_->mutex_);
    if (fill_->state_ == Fill::State::failed) return fill_->error_;
    if (fill_->state_ != Fill::State::streaming) return make_error_code(CacheErrc::fill_failed);
    response = fill_->response_;
  }
  if (response->content_length && *response->content_length != blob_.bytes_written()) {
    const auto error = make_error_code(CacheErrc::size_mismatch);
    fail(error);
    return error;
  }
  const Digest& digest = blob_.finish();
  if (response->expected_digest && *response->expected_digest != digest) {
    const auto error = make_error_code(CacheErrc::digest_mismatch);
    fail(error);
    return error;
  }
  {
    std::lock_guard lock(fill_->mutex_);
    fill_->digest_ = digest;
    fill_->state_ = Fill::State::complete;
  }
  fill_->changed_.notify_all();
  return {};
}

void FillWriter::fail(std::error_code reason) {
  {
    std::lock_guard lock(fill_->mutex_);
    if (fill_->state_ == Fill::State::complete || fill_->state_ == Fill::State::failed) return;
    fill_->state_ = Fill::State::failed;
    fill_->error_ = reason;
  }
  blob_.abort();
  fill_->changed_.notify_all();
  fill_->settle();  // a retry must start a new fill, not join this dead one
}

std::error_code FillWriter::sync() {
  if (fill_->state() != Fill::State::complete) return make_error_code(CacheErrc::fill_failed);
  return blob_.sync();
}

std::error_code FillWriter::publish() {
  const auto digest = fill_->digest();
  if (!digest) return make_error_code(CacheErrc::fill_failed);
  return blob_.publish(*digest);
}

}  // namespace pt::cache
