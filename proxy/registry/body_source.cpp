#include "proxy/registry/body_source.hpp"

#include "cache/cache_error.hpp"
#include "cache/cache_store.hpp"
#include "common/run_blocking.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/upstream_connection.hpp"

#include <fmt/format.h>

#include <vector>

namespace pt::registry {
namespace {

// Reads from files and fills: as large as a body read from a socket.
constexpr std::size_t file_chunk = http::body_read_size;

}  // namespace

asio::awaitable<std::error_code> UpstreamBody::pump(const Sink& sink) {
  std::error_code ec;
  if (hasher_) {
    ec = co_await http::read_body(connection_.stream(), connection_.buffer(), response_, deadline_, idle_,
                                  [&](std::string_view piece) -> asio::awaitable<std::error_code> {
                                    hasher_->update(std::span(piece.data(), piece.size()));
                                    co_return co_await sink(piece);
                                  });
  } else {
    ec = co_await http::read_body(connection_.stream(), connection_.buffer(), response_, deadline_, idle_, sink);
  }
  // Either side failing mid-body breaks the relay: the status line is gone, so the client can only
  // be told by cutting it off.
  if (ec) failure_ = "response body relay failed: " + ec.message();
  co_return ec;
}

asio::awaitable<std::error_code> UpstreamBody::verify() {
  if (!hasher_) co_return std::error_code{};
  const auto got = hasher_->finish();
  if (got == *expected_) co_return std::error_code{};
  failure_ = fmt::format("the body is not {} (it hashes to {}): transfer cut", expected_->str(), got.str());
  co_return make_error_code(cache::CacheErrc::digest_mismatch);
}

asio::awaitable<std::error_code> FillingBody::pump(const Sink& sink) {
  auto ec = co_await http::read_body(connection_.stream(), connection_.buffer(), response_, deadline_, idle_,
                                     [&](std::string_view piece) -> asio::awaitable<std::error_code> {
                                       if (!store_error_) store_error_ = writer_.append(std::span(piece.data(), piece.size()));
                                       co_return co_await sink(piece);
                                     });
  if (ec) {
    writer_.fail(cache::CacheErrc::fill_failed);
    failure_ = "upstream body failed: " + ec.message() + "; not cached";
  }
  co_return ec;
}

asio::awaitable<std::error_code> FillingBody::verify() {
  // Nothing to verify against when the bytes could not be kept: deliver them as a plain proxy would.
  if (store_error_) co_return std::error_code{};
  auto ec = writer_.finish();
  if (ec) failure_ = "not cached: " + ec.message();
  content_mismatch_ = ec == cache::CacheErrc::digest_mismatch;
  co_return ec;
}

CachedFileBody::CachedFileBody(const cache::BlobReader& reader, std::uint64_t first, std::uint64_t length,
                               const cache::Digest& digest, bool hash, cache::CacheStore& store,
                               asio::thread_pool& blocking)
    : reader_(reader), first_(first), length_(length), digest_(digest), store_(store), blocking_(blocking) {
  if (hash) hasher_.emplace();
}

asio::awaitable<std::error_code> CachedFileBody::pump(const Sink& sink) {
  std::vector<char> chunk(file_chunk);
  for (std::uint64_t offset = first_, end = first_ + length_; offset < end;) {
    std::error_code ec;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), end - offset));
    const auto n = reader_.read_at(offset, std::span(chunk.data(), want), ec);
    if (ec || n == 0) {
      failure_ = "cached file unreadable: " + (ec ? ec.message() : std::string("short file"));
      co_return ec ? ec : make_error_code(cache::CacheErrc::size_mismatch);
    }
    if (hasher_) hasher_->update(std::span<const char>(chunk.data(), n));
    if (auto sink_ec = co_await sink(std::string_view(chunk.data(), n))) co_return sink_ec;
    offset += n;
  }
  co_return std::error_code{};
}

asio::awaitable<std::error_code> CachedFileBody::verify() {
  if (!hasher_) co_return std::error_code{};
  if (hasher_->finish() == digest_) {
    store_.verified_files().insert(reader_, digest_);
    co_return std::error_code{};
  }
  failure_ = fmt::format("cached file of {} is corrupt: dropped, transfer cut", digest_.str());
  auto drop = [&store = store_, digest = digest_] { store.drop_corrupt(digest); };
  co_await run_blocking(blocking_, drop);
  co_return make_error_code(cache::CacheErrc::corrupt_blob);
}

asio::awaitable<std::error_code> SharedFillBody::pump(const Sink& sink) {
  std::vector<char> chunk(file_chunk);
  for (std::uint64_t offset = 0;;) {
    std::error_code ec;
    deadline_.expires_after(idle_);
    const auto n = co_await fill_.read_some(offset, std::span(chunk.data(), chunk.size()), ec);
    if (ec) {
      // The shared download failed (upstream error, digest mismatch): cut the transfer.
      failure_ = "shared fill failed: " + ec.message();
      co_return ec;
    }
    if (n == 0) co_return std::error_code{};
    if (auto sink_ec = co_await sink(std::string_view(chunk.data(), n))) co_return sink_ec;
    offset += n;
  }
}

}  // namespace pt::registry
