#pragma once
// The client side of a registry session, plain TCP (a registry mirror over http://) or TLS (an
// intercepted CONNECT, the SNI listener, a mirror over https://), behind one type so the request
// loop and the cache paths are written once. A non-owning view: the session's caller owns the
// socket or TLS stream, as before.
//
// Both branches of each operation return the same type for the same completion token, so this
// works with nothrow_awaitable and with composed operations such as asio::async_write.
#include "proxy/net/tls_stream.hpp"

#include <asio/ip/tcp.hpp>

#include <utility>

namespace pt::net {

class ClientStream {
public:
  using Tls = TlsStream;
  using executor_type = asio::ip::tcp::socket::executor_type;

  ClientStream(asio::ip::tcp::socket& plain) : plain_(&plain) {}  // NOLINT: implicit on purpose
  ClientStream(Tls& tls) : tls_(&tls) {}                          // NOLINT: implicit on purpose

  executor_type get_executor() { return tls_ ? tls_->get_executor() : plain_->get_executor(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

  template <class Token>
  auto async_wait_readable(Token&& token) {
    if (tls_) return tls_->async_wait_readable(std::forward<Token>(token));
    return plain_->async_wait(asio::socket_base::wait_read, std::forward<Token>(token));
  }

  // Tried without waiting (see TlsStream); a plain socket always says would_block and waits.
  std::error_code read_some_now(asio::mutable_buffer buffer, std::size_t& n) {
    n = 0;
    return tls_ ? tls_->read_some_now(buffer, n) : asio::error::would_block;
  }
  std::error_code write_some_now(asio::const_buffer buffer, std::size_t& n) {
    n = 0;
    return tls_ ? tls_->write_some_now(buffer, n) : asio::error::would_block;
  }

  bool is_tls() const { return tls_ != nullptr; }

private:
  asio::ip::tcp::socket* plain_ = nullptr;
  Tls* tls_ = nullptr;
};

}  // namespace pt::net
