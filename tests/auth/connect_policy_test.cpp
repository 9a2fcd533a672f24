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
