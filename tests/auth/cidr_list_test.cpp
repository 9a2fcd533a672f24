#include "auth/cidr_list.hpp"

#include <catch2/catch.hpp>

using pt::auth::CidrList;

namespace {
asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }
}  // namespace

TEST_CASE("CIDR lists admit the addresses inside their blocks", "[cidr]") {
  const auto list = CidrList::parse("127.0.0.0/8, 10.0.0.0/8\n192.168.1.7 ::1/128 fc00::/7");
  REQUIRE(list);
  CHECK(list->contains(ip("127.0.0.1")));
  CHECK(list->contains(ip("127.255.0.9")));
  CHECK(list->contains(ip("10.200.3.4")));
  CHECK(list->contains(ip("192.168.1.7")));
  CHECK_FALSE(list->contains(ip("192.168.1.8")));
  CHECK_FALSE(list->contains(ip("8.8.8.8")));
  CHECK_FALSE(list->contains(ip("11.0.0.1")));
  CHECK(list->contains(ip("::1")));
  CHECK(list->contains(ip("fd12:3456::1")));
  CHECK_FALSE(list->contains(ip("2001:db8::1")));
  CHECK(list->entries().size() == 5);
}

TEST_CASE("IPv4-mapped IPv6 clients match IPv4 blocks", "[cidr]") {
  const auto list = CidrList::parse("10.0.0.0/8");
  REQUIRE(list);
  CHECK(list->contains(ip("::ffff:10.1.2.3")));
  CHECK_FALSE(list->contains(ip("::ffff:11.1.2.3")));
}

TEST_CASE("Odd prefixes and the edges of a block", "[cidr]") {
  const auto list = CidrList::parse("172.16.0.0/12 0.0.0.0/0");
  REQUIRE(list);
  CHECK(list->contains(ip("172.31.255.255")));
  CHECK(list->contains(ip("1.2.3.4")));  // 0.0.0.0/0: everything IPv4
  CHECK_FALSE(list->contains(ip("2001:db8::1")));
  const auto twelve = CidrList::parse("172.16.0.0/12");
  CHECK(twelve->contains(ip("172.16.0.0")));
  CHECK_FALSE(twelve->contains(ip("172.32.0.0")));
  CHECK_FALSE(twelve->contains(ip("172.15.255.255")));
}

TEST_CASE("Bad CIDR entries are refused with the entry named", "[cidr]") {
  for (const char* bad : {"10.0.0.0/33", "10.1.0.0/8", "example.com", "10.0.0.0/", "10.0.0.0/x", "::1/129",
                          "1.2.3.4/-1"}) {
    INFO(bad);
    const auto list = CidrList::parse(bad);
    CHECK_FALSE(list);
    CHECK(list.error.find(bad) != std::string::npos);
  }
}

TEST_CASE("An empty list admits nobody", "[cidr]") {
  const auto list = CidrList::parse("  ");
  REQUIRE(list);
  CHECK(list->empty());
  CHECK_FALSE(list->contains(ip("127.0.0.1")));
}
