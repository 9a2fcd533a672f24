#include "proxy/net/tls_stream.hpp"

#include "../../ca/ca_test_support.hpp"

#include "ca/leaf_context_cache.hpp"
#include "proxy/http/message_io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <tuple>

using pt::net::TlsStream;
using asio::ip::tcp;

namespace {

void rethrow(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

// A server context for "tls.test" from the test root, and a client context trusting only the root.
struct Contexts {
  Contexts() : cache(pt::ca::test::shared_test_root(), pool), client(asio::ssl::context::tls_client) {
    std::signal(SIGPIPE, SIG_IGN);  // as main() does: a write to a closed peer is an error, not death
    asio::io_context io;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { server = co_await cache.context_for("tls.test"); }, rethrow);
    io.run();
    client.add_certificate_authority(asio::buffer(pt::ca::test::shared_test_root().cert_pem()));
    client.set_verify_mode(asio::ssl::verify_peer);
  }
  asio::thread_pool pool{1};
  pt::ca::LeafContextCache cache;
  std::shared_ptr<asio::ssl::context> server;
  asio::ssl::context client;
};

Contexts& contexts() {
  static Contexts instance;
  return instance;
}

// A connected loopback pair: {accepted, connecting}.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  return {acceptor.accept(), std::move(client)};
}

TlsStream client_stream(tcp::socket socket) {
  TlsStream stream(std::move(socket), contexts().client.native_handle(), TlsStream::Role::client);
  SSL_set_tlsext_host_name(stream.native_handle(), "tls.test");
  SSL_set1_host(stream.native_handle(), "tls.test");
  return stream;
}

TlsStream server_stream(tcp::socket socket, std::string early = {}) {
  return TlsStream(std::move(socket), contexts().server->native_handle(), TlsStream::Role::server, std::move(early));
}

asio::awaitable<void> handshake(TlsStream& tls) {
  auto [ec] = co_await tls.async_handshake(pt::nothrow_awaitable);
  REQUIRE_FALSE(ec);
}

}  // namespace

TEST_CASE("TlsStream: handshake, then bytes both ways, larger than the socket buffers") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  // Small kernel buffers make the writer wait for the reader (SSL_ERROR_WANT_WRITE) many times.
  accepted.set_option(asio::socket_base::send_buffer_size(8 * 1024));
  connecting.set_option(asio::socket_base::receive_buffer_size(8 * 1024));
  const std::string payload = [] {
    std::string s(3 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7 + i / 4096);
    return s;
  }();
  std::string received;
  std::string request;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    co_await handshake(tls);
    request.resize(5);
    co_await asio::async_read(tls, asio::buffer(request), asio::use_awaitable);
    co_await asio::async_write(tls, asio::buffer(payload), asio::use_awaitable);
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    CHECK(SSL_get_verify_result(tls.native_handle()) == X509_V_OK);
    co_await asio::async_write(tls, asio::buffer(std::string_view("hello")), asio::use_awaitable);
    received.resize(payload.size());
    co_await asio::async_read(tls, asio::buffer(received), asio::use_awaitable);
  }, rethrow);
  io.run();
  CHECK(request == "hello");
  CHECK(received == payload);
}

TEST_CASE("TlsStream: bytes read before the handshake are read first") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  std::string echoed;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    // As after a CONNECT head: some of the ClientHello has already been read off the socket.
    std::string early(16, '\0');
    co_await asio::async_read(socket, asio::buffer(early), asio::use_awaitable);
    auto tls = server_stream(std::move(socket), early);
    co_await handshake(tls);
    char byte = 0;
    co_await asio::async_read(tls, asio::buffer(&byte, 1), asio::use_awaitable);
    co_await asio::async_write(tls, asio::buffer(&byte, 1), asio::use_awaitable);
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    co_await asio::async_write(tls, asio::buffer(std::string_view("x")), asio::use_awaitable);
    echoed.resize(1);
    co_await asio::async_read(tls, asio::buffer(echoed), asio::use_awaitable);
  }, rethrow);
  io.run();
  CHECK(echoed == "x");
}

TEST_CASE("TlsStream: how a connection ends is reported as asio::ssl::stream does") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  const bool clean = GENERATE(true, false);
  std::error_code read_error;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    co_await handshake(tls);
    char byte = 0;
    auto [read_ec, n] = co_await tls.async_read_some(asio::buffer(&byte, 1), pt::nothrow_awaitable);
    read_error = read_ec;
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    if (clean) SSL_shutdown(tls.native_handle());  // close_notify (non-blocking: just sent)
    tls.next_layer().close();
  }, rethrow);
  io.run();
  if (clean) {
    CHECK(read_error == asio::error::eof);
  } else {
    CHECK(read_error == asio::ssl::error::stream_truncated);
  }
  CHECK(pt::http::is_disconnect(read_error));
}

TEST_CASE("TlsStream: a client that does not trust the certificate fails the handshake with a reason") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  std::error_code server_error;
  std::error_code client_error;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    std::tie(server_error) = co_await tls.async_handshake(pt::nothrow_awaitable);
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    asio::ssl::context trusts_nothing(asio::ssl::context::tls_client);
    trusts_nothing.set_verify_mode(asio::ssl::verify_peer);
    TlsStream tls(std::move(socket), trusts_nothing.native_handle(), TlsStream::Role::client);
    std::tie(client_error) = co_await tls.async_handshake(pt::nothrow_awaitable);
  }, rethrow);
  io.run();
  REQUIRE(client_error);
  CHECK(client_error.category() == asio::error::get_ssl_category());
  CHECK_THAT(client_error.message(), Catch::Contains("certificate verify failed"));
  REQUIRE(server_error);
  CHECK_THAT(server_error.message(), Catch::Contains("unknown ca"));
}

TEST_CASE("TlsStream: a pending read ends with operation_aborted when its socket is cancelled") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  std::error_code read_error;
  TlsStream* server = nullptr;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    server = &tls;
    co_await handshake(tls);
    char byte = 0;
    auto [read_ec, n] = co_await tls.async_read_some(asio::buffer(&byte, 1), pt::nothrow_awaitable);
    read_error = read_ec;
    server = nullptr;
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    asio::steady_timer pause(io, std::chrono::milliseconds(50));
    co_await pause.async_wait(asio::use_awaitable);
    REQUIRE(server);
    server->next_layer().cancel();  // what the deadline watchdog's cancellation comes down to
    co_await pause.async_wait(pt::nothrow_awaitable);
  }, rethrow);
  io.run();
  CHECK(read_error == asio::error::operation_aborted);
}

TEST_CASE("TlsStream: waiting until readable takes no bytes, and sees what OpenSSL already holds") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  std::string first;
  std::string rest;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    co_await handshake(tls);
    auto [wait_ec] = co_await tls.async_wait_readable(pt::nothrow_awaitable);
    REQUIRE_FALSE(wait_ec);
    first.resize(2);  // part of the record: the rest stays inside OpenSSL, not in the socket
    co_await asio::async_read(tls, asio::buffer(first), asio::use_awaitable);
    std::tie(wait_ec) = co_await tls.async_wait_readable(pt::nothrow_awaitable);  // must not hang
    REQUIRE_FALSE(wait_ec);
    rest.resize(3);
    co_await asio::async_read(tls, asio::buffer(rest), asio::use_awaitable);
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    asio::steady_timer pause(io, std::chrono::milliseconds(20));  // the server is waiting by now
    co_await pause.async_wait(asio::use_awaitable);
    co_await asio::async_write(tls, asio::buffer(std::string_view("hello")), asio::use_awaitable);
    pause.expires_after(std::chrono::milliseconds(200));  // keep the connection open meanwhile
    co_await pause.async_wait(asio::use_awaitable);
  }, rethrow);
  io.run();
  CHECK(first == "he");
  CHECK(rest == "llo");
}

TEST_CASE("TlsStream: a transfer that never waits still yields to the scheduler now and then") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  unsigned completed_at_once = 0;
  unsigned deferred = 0;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    auto tls = server_stream(std::move(socket));
    co_await handshake(tls);
    const char byte = 'x';
    for (unsigned i = 0; i < 3 * TlsStream::kSyncStreak; ++i) {  // tiny writes: the socket has room
      std::size_t n = 0;
      if (tls.write_some_now(asio::buffer(&byte, 1), n) == asio::error::would_block) {
        ++deferred;
        co_await asio::async_write(tls, asio::buffer(&byte, 1), asio::use_awaitable);
      } else {
        ++completed_at_once;
      }
    }
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    auto tls = client_stream(std::move(socket));
    co_await handshake(tls);
    std::string all(3 * TlsStream::kSyncStreak, '\0');
    co_await asio::async_read(tls, asio::buffer(all), asio::use_awaitable);
    CHECK(all == std::string(all.size(), 'x'));
  }, rethrow);
  io.run();
  CHECK(deferred == 3);
  CHECK(completed_at_once == 3 * TlsStream::kSyncStreak - 3);
}

TEST_CASE("TlsStream: a cleartext stream (an http:// S3 endpoint) moves bytes both ways, waits, and sees the end") {
  asio::io_context io;
  auto [accepted, connecting] = socket_pair(io);
  // Small kernel buffers make both sides wait for the socket (EAGAIN) many times.
  accepted.set_option(asio::socket_base::send_buffer_size(8 * 1024));
  connecting.set_option(asio::socket_base::receive_buffer_size(8 * 1024));
  const std::string payload(2 * 1024 * 1024, 'p');
  std::string received, request;
  std::error_code end_error;

  asio::co_spawn(io, [&, socket = std::move(accepted)]() mutable -> asio::awaitable<void> {
    TlsStream plain(std::move(socket));
    CHECK(plain.cleartext());
    co_await handshake(plain);  // nothing to do, done at once
    auto [wait_ec] = co_await plain.async_wait_readable(pt::nothrow_awaitable);
    CHECK_FALSE(wait_ec);
    request.resize(5);
    co_await asio::async_read(plain, asio::buffer(request), asio::use_awaitable);
    co_await asio::async_write(plain, asio::buffer(payload), asio::use_awaitable);
    plain.next_layer().shutdown(tcp::socket::shutdown_send);
  }, rethrow);
  asio::co_spawn(io, [&, socket = std::move(connecting)]() mutable -> asio::awaitable<void> {
    TlsStream plain(std::move(socket));
    CHECK(plain.native_handle() == nullptr);
    co_await asio::async_write(plain, asio::buffer(std::string_view("hello")), asio::use_awaitable);
    received.resize(payload.size());
    co_await asio::async_read(plain, asio::buffer(received), asio::use_awaitable);
    char byte = 0;
    auto [read_ec, n] = co_await plain.async_read_some(asio::buffer(&byte, 1), pt::nothrow_awaitable);
    end_error = read_ec;
  }, rethrow);
  io.run();
  CHECK(request == "hello");
  CHECK(received == payload);
  CHECK(end_error == asio::error::eof);
}
