// LISTEN, MIRROR_LISTEN, INTERCEPT_LISTEN: IPv4 and IPv6 listen addresses.
#include "proxy/front/server.hpp"

#include <catch2/catch.hpp>

using pt::front::parse_listen_address;

TEST_CASE("listen addresses: IPv6 takes brackets") {
  CHECK(parse_listen_address("[::]:3128").address().to_string() == "::");
  CHECK(parse_listen_address("[::]:3128").port() == 3128);
  CHECK(parse_listen_address("[::1]:3128").address().to_string() == "::1");
  CHECK(parse_listen_address("[fd00::5]:443").address().to_string() == "fd00::5");
  CHECK(parse_listen_address("127.0.0.1:3128").address().to_string() == "127.0.0.1");
  // Unbracketed, "::1" would be [::]:1 and "::1:3128" a guess: refused.
  CHECK_THROWS_WITH(parse_listen_address("::1"), Catch::Contains("[::1]:3128"));
  CHECK_THROWS(parse_listen_address("::1:3128"));
  CHECK_THROWS(parse_listen_address("[::1]"));
  CHECK_THROWS(parse_listen_address("[::1]:"));
  CHECK_THROWS(parse_listen_address("[not-an-ip]:3128"));
}
