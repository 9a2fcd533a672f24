#include "auth/connect_policy.hpp"

#include <catch2/catch.hpp>

using pt::auth::ConnectPolicy;
using pt::auth::is_forbidden_destination;

TEST_CASE("By default tunnels reach port 443 and the registries' ports only", "[connect-policy]") {
  const auto policy = ConnectPolicy::parse("", {5000});
  REQUIRE(policy);
  CHECK(policy->allows("github.com", 443));
  CHECK(policy->allows("anything.example", 5000));
  CHECK_FALSE(policy->allows("github.com", 22));
  CHECK_FALSE(policy->allows("mail.example", 25));
  CHECK_FALSE(policy->allows("github.com", 80));
}

TEST_CASE("ALLOWED_CONNECT entries: ports, hosts, wildcards", "[connect-policy]") {
  const auto policy = ConnectPolicy::parse("443, *:8443 git.example:22 *.corp.example:9000 build.example", {});
  REQUIRE(policy);
  CHECK(policy->allows("a.example", 443));
  CHECK(policy->allows("a.example", 8443));
  CHECK(policy->allows("git.example", 22));
  CHECK_FALSE(policy->allows("other.example", 22));
  CHECK(policy->allows("x.corp.example", 9000));
  CHECK_FALSE(policy->allows("corp.example", 9000));
  CHECK(policy->allows("build.example", 1234));
  CHECK(policy->entries().size() == 5);
}

TEST_CASE("Bad ALLOWED_CONNECT entries name themselves", "[connect-policy]") {
  for (const char* bad : {"0", "70000", "*:x", "a.*.b:1", "host:0"}) {
    INFO(bad);
    const auto policy = ConnectPolicy::parse(bad, {});
    CHECK_FALSE(policy);
    CHECK(policy.error.find(bad) != std::string::npos);
  }
}

TEST_CASE("Metadata, link-local and unspecified destinations are forbidden", "[connect-policy]") {
  auto ip = [](const char* text) { return asio::ip::make_address(text); };
  CHECK(is_forbidden_destination(ip("169.254.169.254")));
  CHECK(is_forbidden_destination(ip("169.254.0.1")));
  CHECK(is_forbidden_destination(ip("0.0.0.0")));
  CHECK(is_forbidden_destination(ip("255.255.255.255")));
  CHECK(is_forbidden_destination(ip("224.0.0.1")));
  CHECK(is_forbidden_destination(ip("fe80::1")));
  CHECK(is_forbidden_destination(ip("::")));
  CHECK(is_forbidden_destination(ip("fd00:ec2::254")));
  CHECK(is_forbidden_destination(ip("::ffff:169.254.169.254")));
  CHECK_FALSE(is_forbidden_destination(ip("140.82.112.3")));
  CHECK_FALSE(is_forbidden_destination(ip("10.0.0.5")));
  CHECK_FALSE(is_forbidden_destination(ip("127.0.0.21")));
}

TEST_CASE("ALLOWED_CONNECT: IPv6 literals and address blocks", "[connect-policy]") {
  const auto policy =
      ConnectPolicy::parse("[fd00::5]:8443 10.1.0.0/16 192.168.0.0/16:5000 fd00:1::/32 [fd00:2::/32]:9000", {});
  REQUIRE(policy);
  CHECK(policy->allows("fd00::5", 8443));
  CHECK_FALSE(policy->allows("fd00::5", 8444));
  CHECK(policy->allows("10.1.2.3", 22));
  CHECK_FALSE(policy->allows("10.2.0.1", 22));
  CHECK(policy->allows("192.168.7.7", 5000));
  CHECK_FALSE(policy->allows("192.168.7.7", 5001));
  CHECK(policy->allows("fd00:1:ffff::1", 1234));
  CHECK(policy->allows("[fd00:1::1]", 1234));  // bracketed, as a Host header has it
  CHECK_FALSE(policy->allows("fd00:3::1", 1234));
  CHECK(policy->allows("fd00:2::9", 9000));
  CHECK_FALSE(policy->allows("fd00:2::9", 9001));
  CHECK(policy->allows("::ffff:10.1.0.9", 22));  // a mapped literal is its IPv4 address
  // A block matches addresses only: a name is not resolved to match one.
  CHECK_FALSE(policy->allows("ten.example", 22));
  CHECK(policy->entries().back() == "[fd00:2::/32]:9000");
  const auto unbracketed = ConnectPolicy::parse("fd00:2::/32:9000", {});
  REQUIRE(unbracketed);
  CHECK(unbracketed->allows("fd00:2::9", 9000));
  CHECK_FALSE(unbracketed->allows("fd00:2::9", 9001));
}

TEST_CASE("Bad ALLOWED_CONNECT address blocks name themselves", "[connect-policy]") {
  for (const char* bad : {"10.1.0.0/8", "10.0.0.0/8:", "10.0.0.0/8:0", "fd00::/8:0", "[fd00::/8", "[fd00::/8]5000",
                          "[fd00::/129]:1"}) {
    INFO(bad);
    const auto policy = ConnectPolicy::parse(bad, {});
    CHECK_FALSE(policy);
    CHECK(policy.error.find(bad) != std::string::npos);
  }
}

TEST_CASE("IPv6 ways to the metadata services and link-local are forbidden too", "[connect-policy]") {
  auto ip = [](const char* text) { return asio::ip::make_address(text); };
  CHECK(is_forbidden_destination(ip("fe80::1")));
  CHECK(is_forbidden_destination(ip("febf::1")));                  // the end of fe80::/10
  CHECK(is_forbidden_destination(ip("fec0::1")));                  // deprecated site-local
  CHECK(is_forbidden_destination(ip("fd00:ec2::254")));            // AWS
  CHECK(is_forbidden_destination(ip("fd20:ce::254")));             // Google Cloud
  CHECK(is_forbidden_destination(ip("::ffff:169.254.169.254")));   // mapped
  CHECK(is_forbidden_destination(ip("::ffff:0:169.254.169.254"))); // translated
  CHECK(is_forbidden_destination(ip("::169.254.169.254")));        // IPv4-compatible
  CHECK(is_forbidden_destination(ip("64:ff9b::169.254.169.254"))); // NAT64
  CHECK(is_forbidden_destination(ip("64:ff9b:1::a9fe:a9fe")));     // NAT64, local use
  CHECK(is_forbidden_destination(ip("2002:a9fe:a9fe::1")));        // 6to4
  CHECK(is_forbidden_destination(ip("::ffff:0.0.0.0")));
  CHECK(is_forbidden_destination(ip("0.1.2.3")));
  CHECK(is_forbidden_destination(ip("ff02::1")));                  // multicast
  CHECK_FALSE(is_forbidden_destination(ip("::1")));
  CHECK_FALSE(is_forbidden_destination(ip("::ffff:127.0.0.1")));
  CHECK_FALSE(is_forbidden_destination(ip("64:ff9b::8.8.8.8")));
  CHECK_FALSE(is_forbidden_destination(ip("2002:0808:0808::1")));
  CHECK_FALSE(is_forbidden_destination(ip("fd00:ec2::253")));
  CHECK_FALSE(is_forbidden_destination(ip("2001:db8::1")));
  CHECK_FALSE(is_forbidden_destination(ip("2606:4700::6810:84e5")));
}

TEST_CASE("ConnectPolicy::replace: later checks see the new entries, a copy taken before keeps the old",
          "[connect-policy]") {
  auto live = *ConnectPolicy::parse("", {5000});
  const ConnectPolicy before = live;  // shares the snapshot in force
  live.replace(*ConnectPolicy::parse("", {5000, 6000}));
  CHECK(live.allows("other.example", 6000));
  CHECK(live.allows("other.example", 443));
  CHECK_FALSE(before.allows("other.example", 6000));
  CHECK(before.allows("other.example", 5000));

  live = *ConnectPolicy::parse("git.example:22 10.0.0.0/8", {});  // assignment replaces too
  CHECK(live.allows("git.example", 22));
  CHECK(live.allows("10.1.2.3", 8080));
  CHECK_FALSE(live.allows("other.example", 443));
  CHECK(live.entries() == std::vector<std::string>{"git.example:22", "10.0.0.0/8"});
}
