#pragma once
// TLS over a TCP socket, with OpenSSL reading and writing the socket's descriptor itself.
//
// Why not asio::ssl::stream: it runs OpenSSL over a BIO pair and moves every record through four
// 17 KiB buffers per connection (two vectors of its own, the pair's two halves), allocated for the
// connection's whole life. At 1,000 idle client connections that was most of the proxy's memory
// (bench/results), and every byte took two extra copies. Here SSL works on the non-blocking
// socket; when it would block, the operation waits for readiness (socket.async_wait) and tries
// again, as nginx does. The only buffers are OpenSSL's own, released while a connection is idle
// (SSL_MODE_RELEASE_BUFFERS). It also keeps OpenSSL's socket BIO in place, which kernel TLS
// offload needs.
//
// Without an SSL (the socket-only constructor) the same interface carries cleartext: the one
// upstream that may be plain HTTP is an S3 endpoint inside the operator's own network (MinIO on
// http://), and it then travels every code path an https bucket does.
//
// The interface is the subset of asio::ssl::stream the proxy uses (async_read_some,
// async_write_some, async_handshake, native_handle, next_layer), so it works with nothrow_awaitable
// and with composed operations such as asio::async_write. Like any Asio stream: at most one read
// and one write outstanding at a time, all on the socket's executor.
#include "ca/openssl_ptr.hpp"

#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace pt::net {

namespace tls_detail {

// The outcome of one call into OpenSSL: done (with bytes moved, or an error), or blocked until
// the socket can be read or written.
struct Attempt {
  enum class Wait { none, read, write };
  std::error_code error;
  std::size_t bytes = 0;
  Wait wait = Wait::none;
};

// One non-blocking call each. An empty buffer is done at once, with 0 bytes.
Attempt handshake(SSL* ssl);
Attempt read(SSL* ssl, asio::mutable_buffer buffer);
Attempt write(SSL* ssl, asio::const_buffer buffer);
Attempt peek(SSL* ssl);  // done when a byte can be read (it stays there)

// The same on a cleartext stream's non-blocking socket descriptor.
Attempt plain_read(int fd, asio::mutable_buffer buffer);
Attempt plain_write(int fd, asio::const_buffer buffer);
Attempt plain_peek(int fd);

}  // namespace tls_detail

class TlsStream {
public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  enum class Role { client, server };

  // Takes the connected socket. `early`: bytes already read from it that belong to the TLS stream
  // (a ClientHello sent right behind the CONNECT head, or the one read for its SNI); OpenSSL reads
  // them before the socket. Throws std::runtime_error (OpenSSL's reason) if the SSL cannot be made.
  TlsStream(asio::ip::tcp::socket socket, SSL_CTX* context, Role role, std::string early = {});
  // A cleartext stream over the connected socket: no handshake, no SSL (native_handle() is null).
  explicit TlsStream(asio::ip::tcp::socket socket);
  ~TlsStream();
  TlsStream(TlsStream&&) noexcept;
  TlsStream& operator=(TlsStream&&) noexcept;

  executor_type get_executor() { return socket_.get_executor(); }
  SSL* native_handle() { return ssl_.get(); }
  bool cleartext() const { return !ssl_; }
  asio::ip::tcp::socket& next_layer() { return socket_; }

  // void(std::error_code)
  template <class Token>
  auto async_handshake(Token&& token) {
    return start<void(std::error_code)>([](TlsStream& s) { return s.try_handshake(); }, std::forward<Token>(token));
  }

  // void(std::error_code, std::size_t); a clean close_notify is asio::error::eof, a close without
  // one asio::ssl::error::stream_truncated (as with asio::ssl::stream).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const asio::mutable_buffer buffer = first_nonempty<asio::mutable_buffer>(buffers);
    return start<void(std::error_code, std::size_t)>([buffer](TlsStream& s) { return s.try_read(buffer); },
                                                     std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const asio::const_buffer buffer = first_nonempty<asio::const_buffer>(buffers);
    return start<void(std::error_code, std::size_t)>([buffer](TlsStream& s) { return s.try_write(buffer); },
                                                     std::forward<Token>(token));
  }

  // void(std::error_code): completes once a byte can be read, without taking it, or with the error
  // a read would report (asio::error::eof, ...). Lets an idle connection wait with no read buffer
  // of ours allocated; a peek costs no extra system call when the bytes are already there.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return start<void(std::error_code)>([](TlsStream& s) { return s.try_peek(); }, std::forward<Token>(token));
  }

  // The same, tried once without waiting: asio::error::would_block when the socket has nothing
  // (or no room) yet. Tried first by the request loop (message_io.hpp), so that the common case,
  // bytes already there or room to write, costs no asynchronous operation: no post, no suspension.
  // After would_block from a write, the next write must be of the same bytes (OpenSSL's rule).
  // Every kSyncStreak-th call says would_block without trying: a transfer that never has to wait
  // (a fast upstream, a fast client) then still goes through the scheduler now and then, where
  // the other connections on its thread get their turn.
  static constexpr unsigned kSyncStreak = 16;
  std::error_code read_some_now(asio::mutable_buffer buffer, std::size_t& n);
  std::error_code write_some_now(asio::const_buffer buffer, std::size_t& n);

private:
  template <class Buffer, class Buffers>
  static Buffer first_nonempty(const Buffers& buffers) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      const Buffer buffer(*it);
      if (buffer.size() != 0) return buffer;
    }
    return Buffer();
  }

  // Calls `attempt` until it is done, waiting for the socket in between. A result available at
  // once is delivered through a post, never from inside the initiating call (Asio's rule).
  template <class Attempt, bool WithBytes>
  class Operation {
  public:
    Operation(TlsStream& stream, Attempt attempt) : stream_(&stream), attempt_(std::move(attempt)) {}

    template <class Self>
    void operator()(Self& self) {  // started, or the posted immediate result
      if (posted_) return finish(self);
      step(self, true);
    }

    template <class Self>
    void operator()(Self& self, std::error_code wait_error) {  // the socket became ready
      if (wait_error) {
        result_ = {.error = wait_error};
        return finish(self);
      }
      step(self, false);
    }

  private:
    template <class Self>
    void step(Self& self, bool initiating) {
      result_ = attempt_(*stream_);
      using Wait = tls_detail::Attempt::Wait;
      if (result_.wait != Wait::none) {
        const auto what = result_.wait == Wait::read ? asio::socket_base::wait_read : asio::socket_base::wait_write;
        stream_->socket_.async_wait(what, std::move(self));
        return;
      }
      if (initiating) {
        posted_ = true;
        auto executor = stream_->socket_.get_executor();
        asio::post(executor, std::move(self));
        return;
      }
      finish(self);
    }

    template <class Self>
    void finish(Self& self) {
      if constexpr (WithBytes) {
        self.complete(result_.error, result_.bytes);
      } else {
        self.complete(result_.error);
      }
    }

    TlsStream* stream_;
    Attempt attempt_;
    tls_detail::Attempt result_;
    bool posted_ = false;
  };

  template <class Signature, class Attempt, class Token>
  auto start(Attempt attempt, Token&& token) {
    constexpr bool with_bytes = std::is_same_v<Signature, void(std::error_code, std::size_t)>;
    return asio::async_compose<Token, Signature>(Operation<Attempt, with_bytes>(*this, std::move(attempt)), token,
                                                 socket_);
  }

  bool take_turn();  // false: time to yield (see kSyncStreak)

  // One non-blocking attempt, through OpenSSL or, cleartext, on the socket.
  tls_detail::Attempt try_handshake();
  tls_detail::Attempt try_read(asio::mutable_buffer buffer);
  tls_detail::Attempt try_write(asio::const_buffer buffer);
  tls_detail::Attempt try_peek();

  asio::ip::tcp::socket socket_;
  ca::SslPtr ssl_;
  unsigned sync_streak_ = 0;
};

}  // namespace pt::net
