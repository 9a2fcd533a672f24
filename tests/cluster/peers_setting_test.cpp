#include "cluster/peers_setting.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using pt::cluster::parse_peers;

TEST_CASE("PEERS lists members as canonical host:port", "[cluster]") {
  const auto setting = parse_peers("10.0.0.5:3129, Peer-B.example:3129\n[::1]:3129 10.0.0.5:3129");
  REQUIRE(setting.members == std::vector<std::string>{"10.0.0.5:3129", "peer-b.example:3129", "[::1]:3129"});
  CHECK_FALSE(setting.dns);
  CHECK(parse_peers("").empty());
  CHECK(parse_peers("  \n").empty());
}

TEST_CASE("PEERS takes one dns:NAME:PORT entry", "[cluster]") {
  const auto setting = parse_peers("dns:pullthrough-peers.cache.svc.cluster.local:3129");
  REQUIRE(setting.dns);
  CHECK(setting.dns->name == "pullthrough-peers.cache.svc.cluster.local");
  CHECK(setting.dns->port == 3129);
  CHECK(setting.members.empty());
}

TEST_CASE("PEERS refuses what it cannot route by", "[cluster]") {
  CHECK_THROWS_AS(parse_peers("10.0.0.5"), std::invalid_argument);            // no port
  CHECK_THROWS_AS(parse_peers("10.0.0.5:0"), std::invalid_argument);
  CHECK_THROWS_AS(parse_peers("dns:name"), std::invalid_argument);
  CHECK_THROWS_AS(parse_peers("dns:bad_name!:3129"), std::invalid_argument);
  CHECK_THROWS_AS(parse_peers("dns:a.example:1 dns:b.example:1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_peers("dns:a.example:1 10.0.0.5:3129"), std::invalid_argument);
  try {
    parse_peers("10.0.0.5:3129 nope");
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("'nope'") != std::string::npos);
  }
}
