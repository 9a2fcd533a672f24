#include "proxy/net/tls_stream.hpp"

#include "ca/openssl_error.hpp"

#include <asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pt::net {
namespace {

// A filter BIO that hands out bytes read before the TLS stream began (`early`), then reads from
// the socket BIO below it. Writes and controls go straight through.
struct EarlyBytes {
  std::string bytes;
  std::size_t used = 0;
  std::size_t remaining() const { return bytes.size() - used; }
};

EarlyBytes* early_of(BIO* bio) { return static_cast<EarlyBytes*>(BIO_get_data(bio)); }

int early_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  if (auto* early = early_of(bio); early && early->remaining() > 0) {
    const auto n = std::min(size, early->remaining());
    std::memcpy(out, early->bytes.data() + early->used, n);
    early->used += n;
    *read = n;
    return 1;
  }
  BIO* next = BIO_next(bio);
  if (!next) return 0;
  const int result = BIO_read_ex(next, out, size, read);
  BIO_copy_next_retry(bio);
  return result;
}

int early_write(BIO* bio, const char* in, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  BIO* next = BIO_next(bio);
  if (!next) return 0;
  const int result = BIO_write_ex(next, in, size, written);
  BIO_copy_next_retry(bio);
  return result;
}

long early_ctrl(BIO* bio, int command, long number, void* pointer) {
  BIO* next = BIO_next(bio);
  if (command == BIO_CTRL_PENDING) {
    const auto* early = early_of(bio);
    return static_cast<long>(early ? early->remaining() : 0) + (next ? BIO_ctrl(next, command, number, pointer) : 0);
  }
  return next ? BIO_ctrl(next, command, number, pointer) : 0;
}

long early_callback_ctrl(BIO* bio, int command, BIO_info_cb* callback) {
  BIO* next = BIO_next(bio);
  return next ? BIO_callback_ctrl(next, command, callback) : 0;
}

int early_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int early_destroy(BIO* bio) {
  delete early_of(bio);
  BIO_set_data(bio, nullptr);
  return 1;
}

const BIO_METHOD* early_bytes_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "pullthrough early bytes");
    if (!m || !BIO_meth_set_read_ex(m, early_read) || !BIO_meth_set_write_ex(m, early_write) ||
        !BIO_meth_set_ctrl(m, early_ctrl) || !BIO_meth_set_callback_ctrl(m, early_callback_ctrl) ||
        !BIO_meth_set_create(m, early_create) || !BIO_meth_set_destroy(m, early_destroy)) {
      ca::throw_openssl_error("cannot create the early-bytes BIO method");
    }
    return m;
  }();
  return method;
}

}  // namespace

namespace tls_detail {

namespace {

Attempt classify(SSL* ssl, int result) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return {.wait = Attempt::Wait::read};
    case SSL_ERROR_WANT_WRITE:
      return {.wait = Attempt::Wait::write};
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      return {.error = asio::error::eof};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        // No TLS error: the socket failed, or (errno 0) the peer closed without close_notify.
        if (saved_errno != 0) return {.error = std::error_code(saved_errno, asio::error::get_system_category())};
        return {.error = asio::ssl::error::stream_truncated};
      }
      [[fallthrough]];
    default: {
      const unsigned long error = ERR_get_error();
      ERR_clear_error();  // later entries describe the same failure; never blame them on the next call
      if (error == 0) return {.error = std::make_error_code(std::errc::protocol_error)};  // never "success"
      if (ERR_GET_LIB(error) == ERR_LIB_SSL && ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return {.error = asio::ssl::error::stream_truncated};
      }
      return {.error = std::error_code(static_cast<int>(error), asio::error::get_ssl_category())};
    }
  }
}

// Clears what classify() reads (the thread's OpenSSL error queue, errno): right before each call.
void before_call() {
  ERR_clear_error();
  errno = 0;
}

}  // namespace

Attempt handshake(SSL* ssl) {
  before_call();
  const int result = SSL_do_handshake(ssl);
  return result == 1 ? Attempt{} : classify(ssl, result);
}

namespace {

// SSL_read_ex or SSL_write_ex on `buffer`, as one Attempt.
template <class Buffer, class Call>
Attempt transfer(SSL* ssl, Buffer buffer, Call call) {
  if (buffer.size() == 0) return {};
  before_call();
  std::size_t n = 0;
  const int result = call(ssl, buffer.data(), buffer.size(), &n);
  return result == 1 ? Attempt{.bytes = n} : classify(ssl, result);
}

}  // namespace

Attempt read(SSL* ssl, asio::mutable_buffer buffer) { return transfer(ssl, buffer, SSL_read_ex); }

Attempt write(SSL* ssl, asio::const_buffer buffer) { return transfer(ssl, buffer, SSL_write_ex); }

Attempt peek(SSL* ssl) {
  before_call();
  char byte = 0;
  std::size_t n = 0;
  const int result = SSL_peek_ex(ssl, &byte, 1, &n);
  return result == 1 ? Attempt{} : classify(ssl, result);
}

namespace {

// recv/send's failure as an Attempt: would-block waits for the socket, anything else is done.
Attempt plain_failure(Attempt::Wait wait) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {.wait = wait};
  return {.error = std::error_code(errno, asio::error::get_system_category())};
}

}  // namespace

Attempt plain_read(int fd, asio::mutable_buffer buffer) {
  if (buffer.size() == 0) return {};
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n > 0) return {.bytes = static_cast<std::size_t>(n)};
    if (n == 0) return {.error = asio::error::eof};
    if (errno != EINTR) return plain_failure(Attempt::Wait::read);
  }
}

Attempt plain_write(int fd, asio::const_buffer buffer) {
  if (buffer.size() == 0) return {};
  for (;;) {
    // MSG_NOSIGNAL: a peer gone is an EPIPE for this connection, never a SIGPIPE for the process.
    const ssize_t n = ::send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL);
    if (n >= 0) return {.bytes = static_cast<std::size_t>(n)};
    if (errno != EINTR) return plain_failure(Attempt::Wait::write);
  }
}

Attempt plain_peek(int fd) {
  for (;;) {
    char byte = 0;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK);
    if (n > 0) return {};
    if (n == 0) return {.error = asio::error::eof};
    if (errno != EINTR) return plain_failure(Attempt::Wait::read);
  }
}

}  // namespace tls_detail

TlsStream::TlsStream(asio::ip::tcp::socket socket, SSL_CTX* context, Role role, std::string early)
    : socket_(std::move(socket)), ssl_(SSL_new(context)) {
  if (!ssl_) ca::throw_openssl_error("SSL_new");
  socket_.native_non_blocking(true);  // throws only for a closed socket: a bug
  BIO* bio = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
  if (!bio) ca::throw_openssl_error("BIO_new_socket");
  if (!early.empty()) {
    BIO* filter = BIO_new(early_bytes_method());
    if (!filter) {
      BIO_free(bio);
      ca::throw_openssl_error("BIO_new (early bytes)");
    }
    BIO_set_data(filter, new EarlyBytes{.bytes = std::move(early)});
    bio = BIO_push(filter, bio);
  }
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the chain now
  // Buffers only while a record is in flight: an idle connection keeps none. Partial writes: a
  // write returns once a record is out, so the retry after a would-block may be of fewer bytes.
  // Without it, OpenSSL counts the bytes of a large write it has taken, and a retry shorter than
  // that fails with "bad length", which asio::async_write's 64 KiB steps do after a 1 MiB write
  // blocked half-way (a bucket upload over a slow link).
  SSL_set_mode(ssl_.get(),
               SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  // Read what the socket has (up to a buffer) per recv, not a 5-byte header then the record.
  SSL_set_read_ahead(ssl_.get(), 1);
  if (role == Role::server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
}

TlsStream::TlsStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  socket_.native_non_blocking(true);  // throws only for a closed socket: a bug
}

tls_detail::Attempt TlsStream::try_handshake() { return ssl_ ? tls_detail::handshake(ssl_.get()) : tls_detail::Attempt{}; }

tls_detail::Attempt TlsStream::try_read(asio::mutable_buffer buffer) {
  return ssl_ ? tls_detail::read(ssl_.get(), buffer) : tls_detail::plain_read(socket_.native_handle(), buffer);
}

tls_detail::Attempt TlsStream::try_write(asio::const_buffer buffer) {
  return ssl_ ? tls_detail::write(ssl_.get(), buffer) : tls_detail::plain_write(socket_.native_handle(), buffer);
}

tls_detail::Attempt TlsStream::try_peek() {
  return ssl_ ? tls_detail::peek(ssl_.get()) : tls_detail::plain_peek(socket_.native_handle());
}

namespace {

std::error_code settle(const tls_detail::Attempt& attempt, std::size_t& n) {
  n = attempt.bytes;
  return attempt.wait == tls_detail::Attempt::Wait::none ? attempt.error : asio::error::would_block;
}

}  // namespace

bool TlsStream::take_turn() {
  if (++sync_streak_ < kSyncStreak) return true;
  sync_streak_ = 0;
  return false;
}

std::error_code TlsStream::read_some_now(asio::mutable_buffer buffer, std::size_t& n) {
  n = 0;
  if (!take_turn()) return asio::error::would_block;
  return settle(try_read(buffer), n);
}

std::error_code TlsStream::write_some_now(asio::const_buffer buffer, std::size_t& n) {
  n = 0;
  if (!take_turn()) return asio::error::would_block;
  return settle(try_write(buffer), n);
}

TlsStream::~TlsStream() = default;
TlsStream::TlsStream(TlsStream&&) noexcept = default;
TlsStream& TlsStream::operator=(TlsStream&&) noexcept = default;

}  // namespace pt::net
