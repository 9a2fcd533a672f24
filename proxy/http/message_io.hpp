#pragma once
// Reading and writing HTTP/1.1 messages on any Asio stream (plain TCP or TLS), with the
// connection's deadline moved forward as bytes flow. Failures are error codes, never exceptions.
#include "common/awaitable.hpp"
#include "common/deadline.hpp"
#include "proxy/http/codec.hpp"
#include "proxy/http/read_buffer.hpp"

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <concepts>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>

namespace pt::http {

// How much we ask a stream for at once: a TLS record holds 16 KiB, a blob read wants more.
inline constexpr std::size_t head_read_size = 8 * 1024;
inline constexpr std::size_t body_read_size = 64 * 1024;

// The peer went away cleanly (TCP FIN, or TLS without close_notify, which clients commonly do).
inline bool is_disconnect(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

enum class HeadStatus {
  ok,
  closed,       // the peer closed before sending a byte of this message: a normal end
  io_error,     // reset, timeout, TLS error
  parse_error,  // see Parser::error()
};

// Streams that can try a read or write without waiting (TlsStream, ClientStream): the request
// loop tries that first and only falls back to an asynchronous operation on would_block.
template <class Stream>
concept TriesNow = requires(Stream& s, asio::mutable_buffer in, asio::const_buffer out, std::size_t& n) {
  { s.read_some_now(in, n) } -> std::same_as<std::error_code>;
  { s.write_some_now(out, n) } -> std::same_as<std::error_code>;
};

template <class Stream>
asio::awaitable<std::error_code> read_more(Stream& stream, ReadBuffer& buffer, std::size_t want) {
  if constexpr (TriesNow<Stream>) {
    std::size_t n = 0;
    const auto ec = stream.read_some_now(buffer.prepare(want), n);
    if (ec != asio::error::would_block) {
      buffer.commit(n);
      co_return ec;
    }
  }
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(want), nothrow_awaitable);
  buffer.commit(n);
  co_return ec;
}

// Waits until `stream` has something to read, then reads it; an empty `buffer` gives up its storage
// first. For connections waiting for their next request, which most connections are most of the
// time: each would otherwise hold a read buffer of 8 KiB or more while idle.
template <class Stream>
asio::awaitable<std::error_code> read_when_ready(Stream& stream, ReadBuffer& buffer, std::size_t want) {
  if (buffer.empty()) {
    buffer.release();
    std::error_code ec;
    if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) {
      std::tie(ec) = co_await stream.async_wait(asio::socket_base::wait_read, nothrow_awaitable);
    } else {
      // Also a yield when the next request is already there (the result is posted): a client that
      // always has one ready must not keep this thread to itself.
      std::tie(ec) = co_await stream.async_wait_readable(nothrow_awaitable);
    }
    if (ec) co_return ec;
  }
  co_return co_await read_more(stream, buffer, want);
}

// Reads until `parser` has a complete head. Bytes behind the head stay in `buffer`.
template <class Stream>
asio::awaitable<HeadStatus> read_head(Stream& stream, ReadBuffer& buffer, http::Parser& parser,
                                      std::error_code& ec) {
  bool started = false;
  for (;;) {
    if (!buffer.empty()) {
      started = true;
      buffer.consume(parser.feed(buffer.data()));
      if (parser.failed()) co_return HeadStatus::parse_error;
      if (parser.head_complete()) co_return HeadStatus::ok;
    }
    ec = co_await read_more(stream, buffer, head_read_size);
    if (ec) co_return (!started && is_disconnect(ec)) ? HeadStatus::closed : HeadStatus::io_error;
  }
}

// Reads the body of the message whose head `parser` holds, passing each de-chunked piece to
// `sink` (an awaitable returning std::error_code). Each read moves the deadline by `idle`.
template <class Stream, class Sink>
asio::awaitable<std::error_code> read_body(Stream& stream, ReadBuffer& buffer, http::Parser& parser,
                                           Deadline& deadline, Deadline::clock::duration idle, Sink&& sink) {
  while (!parser.message_complete()) {
    if (!buffer.empty()) {
      const std::size_t used = parser.feed(buffer.data());
      for (std::string_view piece : parser.body()) {
        if (auto ec = co_await sink(piece)) co_return ec;
      }
      buffer.consume(used);  // only now: the pieces pointed into the buffer
      if (parser.failed()) co_return std::make_error_code(std::errc::bad_message);
      if (used > 0) continue;
    }
    deadline.expires_after(idle);
    auto ec = co_await read_more(stream, buffer, body_read_size);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      if (parser.feed_eof()) break;
      co_return std::make_error_code(std::errc::connection_aborted);  // truncated body
    }
    if (ec) co_return ec;
  }
  buffer.release();  // a finished body leaves no buffer behind on a connection that may now idle
  co_return std::error_code{};
}

template <class Stream>
asio::awaitable<std::error_code> write_all(Stream& stream, std::string_view bytes) {
  if constexpr (TriesNow<Stream>) {
    while (!bytes.empty()) {
      std::size_t n = 0;
      const auto ec = stream.write_some_now(asio::buffer(bytes.data(), bytes.size()), n);
      if (ec == asio::error::would_block) break;  // the rest (the same bytes) asynchronously
      if (ec) co_return ec;
      bytes.remove_prefix(n);
    }
    if (bytes.empty()) co_return std::error_code{};
  }
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), nothrow_awaitable);
  co_return ec;
}

// Writes a body in the framing announced to the peer: raw bytes, or chunked transfer coding.
class BodyWriter {
public:
  explicit BodyWriter(bool chunked) : chunked_(chunked) {}

  template <class Stream>
  asio::awaitable<std::error_code> write(Stream& stream, std::string_view piece) {
    if (piece.empty()) co_return std::error_code{};
    written_ += piece.size();
    if (!chunked_) co_return co_await write_all(stream, piece);
    // One contiguous write per chunk: over TLS, separate writes would each cost a record.
    scratch_ = http::chunk_header(piece.size());
    scratch_.append(piece);
    scratch_.append("\r\n");
    co_return co_await write_all(stream, scratch_);
  }

  template <class Stream>
  asio::awaitable<std::error_code> finish(Stream& stream) {
    if (!chunked_) co_return std::error_code{};
    co_return co_await write_all(stream, http::last_chunk);
  }

  std::uint64_t bytes_written() const { return written_; }

private:
  bool chunked_;
  std::uint64_t written_ = 0;
  std::string scratch_;
};

}  // namespace pt::http
