#include "dockersock/raw_head.hpp"

#include <catch2/catch.hpp>

using namespace pt::dockersock;

TEST_CASE("head_length finds the blank line") {
  CHECK(head_length("GET / HTTP/1.1\r\nHost: x\r\n") == 0);
  CHECK(head_length("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27);
}

TEST_CASE("the Upgrade field of a hijack request is split off") {
  const std::string head =
      "POST /v1.43/containers/abc/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n"
      "Connection: Upgrade\r\nupgrade:  tcp \r\n\r\n";
  const auto split = split_upgrade_field(head);
  REQUIRE(split.upgrade);
  CHECK(*split.upgrade == "tcp");
  CHECK(split.head ==
        "POST /v1.43/containers/abc/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n"
        "Connection: Upgrade\r\n\r\n");
  const auto plain = split_upgrade_field("GET /_ping HTTP/1.1\r\nX-Upgrade-Note: 1\r\n\r\n");
  CHECK_FALSE(plain.upgrade);
  CHECK(plain.head == "GET /_ping HTTP/1.1\r\nX-Upgrade-Note: 1\r\n\r\n");
}

TEST_CASE("response_status reads the status line") {
  CHECK(response_status("HTTP/1.1 101 UPGRADED\r\n\r\n") == 101);
  CHECK(response_status("HTTP/1.0 200 OK\r\n\r\n") == 200);
  CHECK(response_status("HTTP/2 200\r\n\r\n") == 0);
  CHECK(response_status("garbage") == 0);
}
