#include "proxy/net/upstream_connection.hpp"

#include "common/awaitable.hpp"
#include "proxy/net/egress.hpp"
#include "proxy/net/resolve_overrides.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

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

// ---- Happy eyeballs: the order of the attempts, and the race itself on loopback.

TEST_CASE("interleave_families: the families alternate, starting with the first address's") {
  auto ep = [](const char* ip) { return tcp::endpoint(make_address(ip), 443); };
  using V = std::vector<tcp::endpoint>;
  CHECK(interleave_families({}).empty());
  CHECK(interleave_families(V{ep("10.0.0.1"), ep("10.0.0.2"), ep("fd00::1"), ep("fd00::2"), ep("fd00::3")}) ==
        V{ep("10.0.0.1"), ep("fd00::1"), ep("10.0.0.2"), ep("fd00::2"), ep("fd00::3")});
  CHECK(interleave_families(V{ep("fd00::1"), ep("fd00::2"), ep("10.0.0.1")}) ==
        V{ep("fd00::1"), ep("10.0.0.1"), ep("fd00::2")});
  CHECK(interleave_families(V{ep("10.0.0.1"), ep("10.0.0.2")}) == V{ep("10.0.0.1"), ep("10.0.0.2")});
  // Duplicates (A records listed twice, the same address from two CNAMEs) are tried once.
  CHECK(interleave_families(V{ep("::1"), ep("127.0.0.1"), ep("::1"), ep("127.0.0.1")}) == V{ep("::1"), ep("127.0.0.1")});
  // The same address on another port is another endpoint.
  CHECK(interleave_families(V{ep("::1"), tcp::endpoint(make_address("::1"), 80)}).size() == 2);
}

namespace {

// A listener that never completes a handshake: its accept queue (backlog 0) is full with one
// connection never accepted, so Linux drops further SYNs, as a firewall dropping packets would.
struct BlackHole {
  explicit BlackHole(asio::io_context& io, const char* ip = "127.0.0.1")
      : acceptor(io), filler(io) {
    const tcp::endpoint at(make_address(ip), 0);
    acceptor.open(at.protocol());
    acceptor.bind(at);
    acceptor.listen(0);
    filler.connect(acceptor.local_endpoint());
  }
  tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }
  tcp::acceptor acceptor;
  tcp::socket filler;
};

// An address where nothing listens: connecting is refused at once.
tcp::endpoint refused_endpoint(asio::io_context& io, const char* ip = "127.0.0.1") {
  tcp::acceptor probe(io, {make_address(ip), 0});
  return probe.local_endpoint();  // closed on return
}

struct RaceOutcome {
  std::optional<std::string> error;
  std::optional<tcp::endpoint> peer;
  std::chrono::milliseconds took{0};
};

RaceOutcome race_to(asio::io_context& io, const std::vector<tcp::endpoint>& endpoints, std::chrono::milliseconds stagger,
                    std::chrono::milliseconds give_up = std::chrono::seconds(10)) {
  RaceOutcome outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        tcp::socket socket(io);
        asio::steady_timer limit(io, give_up);
        const auto start = std::chrono::steady_clock::now();
        auto result = co_await (connect_first(socket, endpoints, stagger) || limit.async_wait(nothrow_awaitable));
        outcome.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        if (result.index() == 1) {
          outcome.error = "gave up";
          co_return;
        }
        outcome.error = std::get<0>(result);
        std::error_code ec;
        if (!outcome.error) outcome.peer = socket.remote_endpoint(ec);
      },
      asio::detached);
  io.run();  // returns only when nothing is left running: no attempt outlives connect_first
  return outcome;
}

bool have_ipv6_loopback() {
  asio::io_context io;
  std::error_code ec;
  tcp::acceptor probe(io);
  probe.open(tcp::v6(), ec);
  if (!ec) probe.bind({make_address("::1"), 0}, ec);
  return !ec;
}

}  // namespace

TEST_CASE("connect_first: a silent first address, the next one connects after the stagger") {
  asio::io_context io;
  BlackHole hole(io);
  tcp::acceptor live(io, {make_address("127.0.0.1"), 0});
  const auto outcome = race_to(io, {hole.endpoint(), live.local_endpoint()}, std::chrono::milliseconds(100));
  CHECK_FALSE(outcome.error);
  CHECK(outcome.peer == live.local_endpoint());
  CHECK(outcome.took >= std::chrono::milliseconds(90));
  CHECK(outcome.took < std::chrono::milliseconds(1000));  // far from the 1 s SYN retransmit, let alone a timeout
}

TEST_CASE("connect_first: a refused address moves on at once, without waiting for the stagger") {
  asio::io_context io;
  tcp::acceptor live(io, {make_address("127.0.0.1"), 0});
  const auto outcome =
      race_to(io, {refused_endpoint(io), refused_endpoint(io), live.local_endpoint()}, std::chrono::seconds(5));
  CHECK_FALSE(outcome.error);
  CHECK(outcome.peer == live.local_endpoint());
  CHECK(outcome.took < std::chrono::milliseconds(1000));
}

TEST_CASE("connect_first: a slow attempt is not abandoned when a later one fails") {
  // silent, refused: after the stagger the second attempt fails at once, the first keeps going;
  // nothing connects, so the race ends when the caller gives up, with nothing left running.
  asio::io_context io;
  BlackHole hole(io);
  const auto outcome = race_to(io, {hole.endpoint(), refused_endpoint(io)}, std::chrono::milliseconds(50),
                               std::chrono::milliseconds(300));
  CHECK(outcome.error == "gave up");
  CHECK(outcome.took >= std::chrono::milliseconds(290));
  CHECK(outcome.took < std::chrono::milliseconds(1000));
}

TEST_CASE("connect_first: when every address fails, the error names each") {
  asio::io_context io;
  const auto a = refused_endpoint(io);
  const auto b = refused_endpoint(io);
  const auto outcome = race_to(io, {a, b}, std::chrono::milliseconds(250));
  REQUIRE(outcome.error);
  CHECK_THAT(*outcome.error, Catch::Contains(fmt::format("127.0.0.1:{}: Connection refused", a.port())));
  CHECK_THAT(*outcome.error, Catch::Contains(fmt::format("127.0.0.1:{}: Connection refused", b.port())));
  CHECK(outcome.took < std::chrono::milliseconds(1000));
  asio::io_context other;
  CHECK(race_to(other, {}, std::chrono::milliseconds(250)).error == "no addresses");
}

TEST_CASE("connect_first: dead IPv4 and live IPv6, and the other way round") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback: skipped");
    return;
  }
  {
    asio::io_context io;
    BlackHole hole(io, "127.0.0.1");
    tcp::acceptor live(io, {make_address("::1"), 0});
    const auto outcome = race_to(io, interleave_families({hole.endpoint(), live.local_endpoint()}),
                                 std::chrono::milliseconds(100));
    CHECK_FALSE(outcome.error);
    CHECK(outcome.peer == live.local_endpoint());
  }
  {
    asio::io_context io;
    BlackHole hole(io, "::1");
    tcp::acceptor live(io, {make_address("127.0.0.1"), 0});
    const auto outcome = race_to(io, interleave_families({hole.endpoint(), live.local_endpoint()}),
                                 std::chrono::milliseconds(100));
    CHECK_FALSE(outcome.error);
    CHECK(outcome.peer == live.local_endpoint());
    CHECK(outcome.took < std::chrono::milliseconds(1000));
  }
}

TEST_CASE("connect_tcp: a name overridden to an IPv6 literal") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback: skipped");
    return;
  }
  asio::io_context io;
  tcp::acceptor live(io, {make_address("::1"), 0});
  const ResolveOverrides overrides(fmt::format("registry.test=[::1]:{}", live.local_endpoint().port()));
  std::optional<std::string> error = "not run";
  tcp::endpoint peer;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::socket socket(io);
        auto connected = co_await connect_tcp(socket, "registry.test", 443, overrides);
        error = connected.error;
        std::error_code ec;
        if (!error) peer = socket.remote_endpoint(ec);
      },
      asio::detached);
  io.run();
  CHECK_FALSE(error);
  CHECK(peer == live.local_endpoint());
}
