#include "proxy/net/upstream_connection.hpp"

#include <catch2/catch.hpp>

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
