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

TEST_CASE("IPv6 blocks: prefixes off byte boundaries, brackets, mapped blocks", "[cidr]") {
  const auto list = CidrList::parse("fe80::/10 [2001:db8:100::]/40 [::1] ::ffff:192.168.0.0/112");
  REQUIRE(list);
  CHECK(list->contains(ip("fe80::1")));
  CHECK(list->contains(ip("febf:ffff::1")));  // still fe80::/10
  CHECK_FALSE(list->contains(ip("fec0::1")));
  CHECK(list->contains(ip("2001:db8:100::5")));
  CHECK(list->contains(ip("2001:db8:1ff:ffff::5")));
  CHECK_FALSE(list->contains(ip("2001:db8:200::5")));
  CHECK(list->contains(ip("::1")));
  // The mapped block is the IPv4 block 192.168.0.0/16, for IPv4 and mapped clients alike.
  CHECK(list->contains(ip("192.168.3.4")));
  CHECK(list->contains(ip("::ffff:192.168.3.4")));
  CHECK_FALSE(list->contains(ip("192.169.0.1")));
  CHECK(list->entries().back() == "192.168.0.0/16");
}

TEST_CASE("::/0 admits IPv6 clients, not the IPv4 clients of a dual-stack listener", "[cidr]") {
  const auto list = CidrList::parse("::/0");
  REQUIRE(list);
  CHECK(list->contains(ip("2001:db8::1")));
  CHECK(list->contains(ip("::1")));
  CHECK_FALSE(list->contains(ip("::ffff:127.0.0.1")));
  CHECK_FALSE(list->contains(ip("127.0.0.1")));
}

TEST_CASE("Bad IPv6 blocks name themselves", "[cidr]") {
  for (const char* bad : {"fe80::1/10", "[fe80::]/129", "[fe80::", "fd00::/8x", "::g"}) {
    INFO(bad);
    const auto list = CidrList::parse(bad);
    CHECK_FALSE(list);
    CHECK(list.error.find(bad) != std::string::npos);
  }
}
