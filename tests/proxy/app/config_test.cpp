#include "proxy/app/config.hpp"
#include "proxy/front/server.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <vector>

using namespace pt;
using namespace pt::app;
using namespace std::chrono_literals;

namespace {

ConfigResult parse(std::vector<const char*> args) {
  args.insert(args.begin(), "pullthrough");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

// Sets an environment variable for the duration of a test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) { ::setenv(name.c_str(), value, 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("defaults need no configuration") {
  const auto r = parse({});
  REQUIRE(r.config);
  CHECK(r.config->listen == "0.0.0.0:3128");
  CHECK(r.config->ca_dir == "/ca");
  CHECK(r.config->cache_dir == "/docker_mirror_cache");
  CHECK(r.config->cache_max_bytes == 32ull << 30);
  CHECK(r.config->cache_inactive == 60 * 24h);
  CHECK(r.config->verify_ssl);
  CHECK_FALSE(r.config->allow_push);
  CHECK(r.config->threads >= 1);
}

TEST_CASE("environment variables set what their flags set, and flags win") {
  ScopedEnv registries("REGISTRIES", "quay.io ghcr.io");
  ScopedEnv verify("VERIFY_SSL", "false");
  ScopedEnv size("CACHE_MAX_SIZE", "2g");
  ScopedEnv listen("LISTEN", "127.0.0.1:9999");
  const auto r = parse({"--listen", "127.0.0.1:3129", "--client-idle-timeout", "90s"});
  REQUIRE(r.config);
  CHECK(r.config->registries == "quay.io ghcr.io");
  CHECK_FALSE(r.config->verify_ssl);
  CHECK(r.config->cache_max_bytes == 2ull << 30);
  CHECK(r.config->listen == "127.0.0.1:3129");
  CHECK(r.config->client_idle_timeout == 90s);
}

TEST_CASE("bad values name the flag and its variable") {
  ScopedEnv size("CACHE_MAX_SIZE", "lots");
  const auto r = parse({});
  CHECK_FALSE(r.config);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.message, Catch::Contains("--cache-max-size") && Catch::Contains("CACHE_MAX_SIZE"));
}

TEST_CASE("S3_INACTIVE is a duration, off by default, next to S3_MAX_SIZE") {
  CHECK(parse({}).config->s3_inactive == 0ms);
  {
    ScopedEnv inactive("S3_INACTIVE", "30d");
    ScopedEnv size("S3_MAX_SIZE", "500g");
    const auto r = parse({});
    REQUIRE(r.config);
    CHECK(r.config->s3_inactive == 30 * 24h);
    CHECK(r.config->s3_max_bytes == 500ull << 30);
  }
  {
    ScopedEnv inactive("S3_INACTIVE", "");  // empty: off
    CHECK(parse({}).config->s3_inactive == 0ms);
  }
  ScopedEnv inactive("S3_INACTIVE", "a month");
  const auto r = parse({});
  CHECK_FALSE(r.config);
  CHECK_THAT(r.message, Catch::Contains("--s3-inactive") && Catch::Contains("S3_INACTIVE"));
}

TEST_CASE("--help lists the settings and exits 0") {
  const auto r = parse({"--help"});
  CHECK_FALSE(r.config);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.message, Catch::Contains("REGISTRIES") && Catch::Contains("--upstream-resolve"));
}

TEST_CASE("unknown flags are usage errors") {
  const auto r = parse({"--no-such-flag"});
  CHECK_FALSE(r.config);
  CHECK(r.exit_code == 2);
}

TEST_CASE("listen addresses") {
  CHECK(front::parse_listen_address("0.0.0.0:3128").port() == 3128);
  CHECK(front::parse_listen_address("[::1]:3128").address().is_v6());
  CHECK(front::parse_listen_address(":8080").address().to_string() == "0.0.0.0");
  CHECK(front::parse_listen_address("3128").port() == 3128);
  CHECK_THROWS_WITH(front::parse_listen_address("host:port"), Catch::Contains("LISTEN"));
  CHECK_THROWS(front::parse_listen_address("1.2.3.4:70000"));
}

TEST_CASE("an empty manifest cache regex disables its tier, as in rpardini") {
  ScopedEnv primary("MANIFEST_CACHE_PRIMARY_REGEX", "");
  const auto r = parse({});
  REQUIRE(r.config);
  CHECK(r.config->manifest_cache_primary_regex.empty());
  CHECK_FALSE(r.config->manifest_cache_secondary_regex.empty());
}
