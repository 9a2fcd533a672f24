#include "proxy/net/upstream_connection.hpp"

#include "common/awaitable.hpp"
#include "proxy/net/egress.hpp"
#include "proxy/net/resolve_overrides.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>

using namespace pt;
using namespace pt::net;
using asio::ip::make_address;
using asio::ip::tcp;

TEST_CASE("reaches_listener: the DNS-hijack loop guard") {
  const tcp::endpoint listener{make_address("10.0.0.5"), 443};
  CHECK(reaches_listener({make_address("10.0.0.5"), 443}, listener));
  CHECK(reaches_listener({make_address("::ffff:10.0.0.5"), 443}, listener));  // v4-mapped
  CHECK_FALSE(reaches_listener({make_address("10.0.0.5"), 8443}, listener));  // another port: another server
  CHECK_FALSE(reaches_listener({make_address("10.0.0.6"), 443}, listener));
  CHECK_FALSE(reaches_listener({make_address("127.0.0.1"), 443}, listener));  // bound to one address only

  // A listener on every address is reached through loopback too.
  const tcp::endpoint any{make_address("0.0.0.0"), 443};
  CHECK(reaches_listener({make_address("127.0.0.1"), 443}, any));
  CHECK(reaches_listener({make_address("127.0.0.53"), 443}, any));
  CHECK(reaches_listener({make_address("::1"), 443}, any));
  CHECK(reaches_listener({make_address("0.0.0.0"), 443}, any));
  CHECK_FALSE(reaches_listener({make_address("1.2.3.4"), 443}, any));  // (see the limitation in docs/mirror.md)
  const tcp::endpoint any6{make_address("::"), 443};
  CHECK(reaches_listener({make_address("::1"), 443}, any6));
  CHECK(reaches_listener({make_address("127.0.0.1"), 443}, any6));
}

// ---- The CONNECT handshake with a corporate proxy (UPSTREAM_PROXY), against an in-process fake.

namespace {

// A one-connection fake corporate proxy on 127.0.0.1: records the request head it gets, answers
// `reply` in one write (so the tunnel's first bytes arrive with the head, as they may), then waits
// for the client to close.
struct FakeCorporateProxy {
  explicit FakeCorporateProxy(asio::io_context& io, std::string reply)
      : acceptor(io, {make_address("127.0.0.1"), 0}), port_(acceptor.local_endpoint().port()), reply(std::move(reply)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  asio::awaitable<void> serve() {
    auto [accept_ec, socket] = co_await acceptor.async_accept(nothrow_awaitable);
    if (accept_ec) co_return;
    std::string buffer;
    auto [read_ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", nothrow_awaitable);
    if (read_ec) co_return;
    request = buffer.substr(0, n);
    co_await asio::async_write(socket, asio::buffer(reply), nothrow_awaitable);
    char byte;
    co_await socket.async_read_some(asio::buffer(&byte, 1), nothrow_awaitable);
  }
  std::uint16_t port() const { return port_; }

  tcp::acceptor acceptor;
  std::uint16_t port_;
  std::string reply;
  std::string request;
};

struct TunnelOutcome {
  TcpConnect connect;
  std::string after_head;  // what the socket holds after the handshake
};

// connect_tcp to host:443 with UPSTREAM_PROXY pointing at the fake, through `overrides_spec`.
TunnelOutcome tunnel_through(FakeCorporateProxy& fake, asio::io_context& io, const std::string& host,
                             const std::string& userinfo = "alice:s3cret@", const std::string& no_proxy = "",
                             const std::string& overrides_spec = "") {
  auto proxy = parse_upstream_proxy(fmt::format("http://{}127.0.0.1:{}", userinfo, fake.port()));
  REQUIRE(proxy);
  const Egress egress(*proxy, *NoProxyList::parse(no_proxy));
  const ResolveOverrides overrides(overrides_spec, nullptr, &egress);
  TunnelOutcome outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::socket socket(io);
        outcome.connect = co_await connect_tcp(socket, host, 443, overrides);
        if (outcome.connect.error) {
          std::error_code ignored;
          fake.acceptor.close(ignored);
          co_return;
        }
        char bytes[64];
        auto [ec, n] = co_await asio::async_read(socket, asio::buffer(bytes, 5), nothrow_awaitable);
        if (!ec) outcome.after_head.assign(bytes, n);
        std::error_code ignored;
        fake.acceptor.close(ignored);  // the fake stops waiting for a connection that did not come
      },
      asio::detached);
  io.run();
  return outcome;
}

}  // namespace

TEST_CASE("connect_tcp through UPSTREAM_PROXY: the name goes to the proxy, not to a resolver") {
  asio::io_context io;
  FakeCorporateProxy fake(io, "HTTP/1.1 200 Connection established\r\nVia: fake\r\n\r\nHELLO");
  // ".invalid" never resolves: reaching it at all proves the name was not resolved here.
  const auto outcome = tunnel_through(fake, io, "registry.invalid");
  CHECK_FALSE(outcome.connect.error);
  CHECK(outcome.connect.via_proxy);
  CHECK(fake.request == "CONNECT registry.invalid:443 HTTP/1.1\r\nHost: registry.invalid:443\r\n"
                        "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\nUser-Agent: pullthrough\r\n\r\n");
  // The server's first bytes, sent with the proxy's head, are left for the tunnel.
  CHECK(outcome.after_head == "HELLO");
}

TEST_CASE("connect_tcp through UPSTREAM_PROXY: UPSTREAM_RESOLVE's address is the CONNECT target") {
  asio::io_context io;
  FakeCorporateProxy fake(io, "HTTP/1.0 200 OK\r\n\r\nHELLO");
  const auto outcome = tunnel_through(fake, io, "registry.invalid", "", "", "registry.invalid=[fd00::5]:5000");
  CHECK_FALSE(outcome.connect.error);
  CHECK(fake.request == "CONNECT [fd00::5]:5000 HTTP/1.1\r\nHost: [fd00::5]:5000\r\nUser-Agent: pullthrough\r\n\r\n");
}

TEST_CASE("connect_tcp through UPSTREAM_PROXY: a 407 is an error naming the proxy, never its password") {
  asio::io_context io;
  FakeCorporateProxy fake(io, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
                              "Content-Length: 5\r\n\r\ndenied");
  const auto outcome = tunnel_through(fake, io, "registry.invalid", "alice:hunter2@");
  REQUIRE(outcome.connect.error);
  CHECK_THAT(*outcome.connect.error,
             Catch::StartsWith(fmt::format("corporate proxy http://alice:***@127.0.0.1:{} (UPSTREAM_PROXY) refused "
                                           "CONNECT registry.invalid:443: 407 Proxy Authentication Required",
                                           fake.port())));
  CHECK_THAT(*outcome.connect.error, !Catch::Contains("hunter2"));
}

TEST_CASE("connect_tcp through UPSTREAM_PROXY: a proxy that hangs up or talks nonsense") {
  {
    asio::io_context io;
    FakeCorporateProxy fake(io, "");
    fake.acceptor.close();  // nobody listens: the proxy is unreachable
    const auto outcome = tunnel_through(fake, io, "registry.invalid", "u:hunter2@");
    REQUIRE(outcome.connect.error);
    CHECK_THAT(*outcome.connect.error, Catch::Contains("cannot reach the corporate proxy http://u:***@127.0.0.1"));
    CHECK_THAT(*outcome.connect.error, !Catch::Contains("hunter2"));
  }
  {
    asio::io_context io;
    FakeCorporateProxy fake(io, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    const auto outcome = tunnel_through(fake, io, "registry.invalid");
    REQUIRE(outcome.connect.error);
    CHECK_THAT(*outcome.connect.error, Catch::Contains("not an HTTP response"));
  }
}

TEST_CASE("connect_tcp with UPSTREAM_NO_PROXY: the host is reached directly") {
  asio::io_context io;
  FakeCorporateProxy fake(io, "HTTP/1.1 200 OK\r\n\r\nHELLO");
  const auto outcome = tunnel_through(fake, io, "registry.invalid", "", "*.invalid");
  REQUIRE(outcome.connect.error);
  CHECK_FALSE(outcome.connect.via_proxy);
  CHECK_THAT(*outcome.connect.error, Catch::Contains("cannot resolve registry.invalid"));
  CHECK(fake.request.empty());
}
