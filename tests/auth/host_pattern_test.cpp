#include "auth/host_pattern.hpp"

#include <catch2/catch.hpp>

using namespace pt::auth;

namespace {

HostPattern pattern(std::string_view text) {
  auto result = parse_host_pattern(text);
  INFO(text << ": " << result.error);
  REQUIRE(result);
  return *result;
}

}  // namespace

TEST_CASE("exact patterns match their name, on any port unless one is given") {
  const auto any_port = pattern("Quay.io");
  CHECK(any_port.matches("quay.io", 443));
  CHECK(any_port.matches("quay.io", 5000));
  CHECK_FALSE(any_port.matches("cdn.quay.io", 443));
  CHECK_FALSE(any_port.matches("quay.io.evil", 443));

  const auto one_port = pattern("myreg:5000");
  CHECK(one_port.matches("myreg", 5000));
  CHECK_FALSE(one_port.matches("myreg", 443));
  CHECK(one_port.to_string() == "myreg:5000");
}

TEST_CASE("wildcards match names below the suffix, not the suffix itself") {
  const auto wildcard = pattern("*.pkg.dev");
  CHECK(wildcard.wildcard);
  CHECK(wildcard.matches("europe-docker.pkg.dev", 443));
  CHECK(wildcard.matches("a.b.pkg.dev", 443));
  CHECK_FALSE(wildcard.matches("pkg.dev", 443));
  CHECK_FALSE(wildcard.matches("xpkg.dev", 443));
  CHECK_FALSE(wildcard.matches(".pkg.dev", 443));
  CHECK(wildcard.to_string() == "*.pkg.dev");
  CHECK(pattern("*.pkg.dev:8443").to_string() == "*.pkg.dev:8443");
}

TEST_CASE("malformed patterns say why") {
  CHECK_THAT(parse_host_pattern("*").error, Catch::Contains("leading '*.'"));
  CHECK_THAT(parse_host_pattern("*foo.com").error, Catch::Contains("leading '*.'"));
  CHECK_THAT(parse_host_pattern("a.*.com").error, Catch::Contains("leading '*.'"));
  CHECK_THAT(parse_host_pattern("*.*.com").error, Catch::Contains("leading '*.'"));
  CHECK_THAT(parse_host_pattern("*.10.0.0.1").error, Catch::Contains("IP address"));
  CHECK_THAT(parse_host_pattern("*.").error, Catch::Contains("empty"));
  CHECK(pattern("[fd00::5]:5000").to_string() == "[fd00::5]:5000");
}
