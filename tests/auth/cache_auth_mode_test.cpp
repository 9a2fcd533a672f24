#include "auth/cache_auth_mode.hpp"

#include <catch2/catch.hpp>

using pt::auth::CacheAuthMode;
using pt::auth::CacheAuthModes;

TEST_CASE("CACHE_AUTH_MODE: a default and per-registry overrides", "[cache-auth]") {
  const auto modes = CacheAuthModes::parse("shared ghcr.io=verify registry.corp:5000=verify *.private.example=verify");
  REQUIRE(modes);
  CHECK(modes->mode_for("registry-1.docker.io", 443) == CacheAuthMode::shared);
  CHECK(modes->mode_for("GHCR.io", 443) == CacheAuthMode::verify);
  CHECK(modes->mode_for("registry.corp", 5000) == CacheAuthMode::verify);
  CHECK(modes->mode_for("registry.corp", 443) == CacheAuthMode::shared);
  CHECK(modes->mode_for("a.private.example", 443) == CacheAuthMode::verify);
  CHECK(modes->any_verify());
  CHECK(modes->describe() == "shared ghcr.io=verify registry.corp:5000=verify *.private.example=verify");
}

TEST_CASE("CACHE_AUTH_MODE defaults to shared; verify alone applies everywhere", "[cache-auth]") {
  const auto empty = CacheAuthModes::parse("");
  REQUIRE(empty);
  CHECK(empty->mode_for("quay.io", 443) == CacheAuthMode::shared);
  CHECK_FALSE(empty->any_verify());
  const auto verify = CacheAuthModes::parse("VERIFY, quay.io=shared");
  REQUIRE(verify);
  CHECK(verify->mode_for("ghcr.io", 443) == CacheAuthMode::verify);
  CHECK(verify->mode_for("quay.io", 443) == CacheAuthMode::shared);
}

TEST_CASE("Bad CACHE_AUTH_MODE entries are named", "[cache-auth]") {
  for (const char* bad : {"strict", "ghcr.io=maybe", "a.*.b=verify", "shared verify"}) {
    INFO(bad);
    CHECK_FALSE(CacheAuthModes::parse(bad));
  }
  CHECK(CacheAuthModes::parse("ghcr.io=maybe").error.find("ghcr.io=maybe") != std::string::npos);
}
