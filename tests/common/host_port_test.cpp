#include "common/host_port.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pt;

namespace {

HostPort parsed(std::string_view text, PortRule rule = PortRule::optional) {
  auto result = parse_authority(text, rule);
  INFO(text << ": " << result.error);
  REQUIRE(result);
  return *result;
}

std::string error_of(std::string_view text, PortRule rule = PortRule::optional) {
  auto result = parse_authority(text, rule);
  REQUIRE_FALSE(result);
  CHECK_FALSE(result.error.empty());
  return result.error;
}

}  // namespace

TEST_CASE("authorities parse into a lower-case host and an optional port") {
  CHECK(parsed("quay.io") == HostPort{"quay.io", std::nullopt});
  CHECK(parsed("Quay.IO:443") == HostPort{"quay.io", 443});
  CHECK(parsed("quay.io.:443") == HostPort{"quay.io", 443});
  CHECK(parsed("my_registry.local:5000") == HostPort{"my_registry.local", 5000});
  CHECK(parsed("localhost") == HostPort{"localhost", std::nullopt});
  CHECK(parsed("10.0.0.5:5000") == HostPort{"10.0.0.5", 5000});
  CHECK(parsed("a.b:65535") == HostPort{"a.b", 65535});
  CHECK(parsed("a.b:00443") == HostPort{"a.b", 443});
}

TEST_CASE("IPv6 literals are bracketed with a port, canonical and bracket-free once parsed") {
  CHECK(parsed("[::1]:5000") == HostPort{"::1", 5000});
  CHECK(parsed("[FD00:0:0::0005]:443") == HostPort{"fd00::5", 443});
  CHECK(parsed("[::1]") == HostPort{"::1", std::nullopt});
  CHECK(parsed("fd00::5") == HostPort{"fd00::5", std::nullopt});
  CHECK_THAT(error_of("[::1]x"), Catch::Contains("after ']'"));
  CHECK_THAT(error_of("[::1"), Catch::Contains("']'"));
  CHECK_THAT(error_of("[1.2.3.4]:80"), Catch::Contains("IPv6"));
  CHECK_THAT(error_of("[]:80"), Catch::Contains("IPv6"));
  CHECK_THAT(error_of("[fe80::1%eth0]:80"), Catch::Contains("IPv6"));
}

TEST_CASE("host names are validated") {
  CHECK_THAT(error_of(""), Catch::Contains("empty host"));
  CHECK_THAT(error_of(":443"), Catch::Contains("empty host"));
  CHECK_THAT(error_of("."), Catch::Contains("empty label"));
  CHECK_THAT(error_of("a..b"), Catch::Contains("empty label"));
  CHECK_THAT(error_of(".a.b"), Catch::Contains("empty label"));
  CHECK_THAT(error_of("quay io"), Catch::Contains("may only contain"));
  CHECK_THAT(error_of("qu@y.io"), Catch::Contains("may only contain"));
  CHECK_THAT(error_of("quay.io/v2"), Catch::Contains("may only contain"));
  CHECK_THAT(error_of("caf\xC3\xA9.example"), Catch::Contains("may only contain"));
  CHECK_THAT(error_of(std::string(64, 'a') + ".io"), Catch::Contains("63"));
  CHECK(parse_authority(std::string(63, 'a') + ".io"));
  CHECK_THAT(error_of("1.2.3.256"), Catch::Contains("IPv4"));
  CHECK_THAT(error_of("1.2.3"), Catch::Contains("IPv4"));
  CHECK(parse_authority("1password.com"));
  CHECK(parse_authority("3.example"));

  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  long_name += "io";
  CHECK_THAT(error_of(long_name), Catch::Contains("253"));
}

TEST_CASE("ports are 1..65535 in decimal") {
  CHECK_THAT(error_of("a.b:"), Catch::Contains("empty port"));
  CHECK_THAT(error_of("a.b:0"), Catch::Contains("1 to 65535"));
  CHECK_THAT(error_of("a.b:65536"), Catch::Contains("1 to 65535"));
  CHECK_THAT(error_of("a.b:-1"), Catch::Contains("1 to 65535"));
  CHECK_THAT(error_of("a.b:+1"), Catch::Contains("1 to 65535"));
  CHECK_THAT(error_of("a.b:44x"), Catch::Contains("1 to 65535"));
  CHECK_THAT(error_of("a.b:999999999999999999999"), Catch::Contains("1 to 65535"));
  CHECK(parse_port("1") == 1);
  CHECK(parse_port("65535") == 65535);
  CHECK_FALSE(parse_port(""));
  CHECK_FALSE(parse_port("0x10"));
}

TEST_CASE("CONNECT targets require a port and never throw") {
  CHECK(*parse_connect_target("registry-1.docker.io:443") == HostPort{"registry-1.docker.io", 443});
  CHECK(*parse_connect_target("[2001:db8::1]:443") == HostPort{"2001:db8::1", 443});
  CHECK_THAT(parse_connect_target("quay.io").error, Catch::Contains("missing port"));
  CHECK_THAT(parse_connect_target("2001:db8::1").error, Catch::Contains("missing port"));

  const std::string hostile[] = {std::string("a\0b:443", 7), "\r\n:443", ":::::", "[", "]", "[]", "[:]:1",
                                 std::string(100000, 'a') + ":443", std::string(100000, ':'), "a:b:c", "%00:1"};
  for (const auto& input : hostile) {
    CHECK_NOTHROW(parse_connect_target(input));
    CHECK_FALSE(parse_connect_target(input));
  }
}

TEST_CASE("errors never quote the input") {
  CHECK_THAT(parse_connect_target("secret-name.example:99999").error, !Catch::Contains("secret"));
  CHECK_THAT(parse_connect_target("bad host:1").error, !Catch::Contains("bad"));
}

TEST_CASE("IP literals are recognised and canonicalised") {
  CHECK(canonical_ip_literal("127.0.0.1") == "127.0.0.1");
  CHECK(canonical_ip_literal("0:0::1") == "::1");
  CHECK_FALSE(canonical_ip_literal("localhost"));
  CHECK_FALSE(canonical_ip_literal("[::1]"));
  CHECK_FALSE(canonical_ip_literal(""));
}

TEST_CASE("hosts normalise and format back to authorities") {
  CHECK(normalize_host("Quay.IO.") == "quay.io");
  CHECK(normalize_host("[::1]") == "::1");
  CHECK(normalize_host("") == "");
  CHECK(normalize_host(".") == ".");
  CHECK(format_authority(HostPort{"quay.io", std::nullopt}) == "quay.io");
  CHECK(format_authority(HostPort{"quay.io", 443}) == "quay.io:443");
  CHECK(format_authority(HostPort{"::1", 5000}) == "[::1]:5000");
  CHECK(format_authority(HostPort{"::1", std::nullopt}) == "::1");
}
