#include "cache/manifest_cache_policy.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {
ManifestCachePolicy enabled_with_defaults() {
  ManifestCacheSettings settings;
  settings.enable = "true";
  return ManifestCachePolicy(settings);
}
}  // namespace

TEST_CASE("manifest caching disabled: every tag is fresh for 60 seconds") {
  const ManifestCachePolicy policy;
  CHECK(policy.freshness_window("latest") == 60s);
  CHECK(policy.freshness_window("1.2.3") == 60s);
  CHECK(policy.freshness_window("stable") == 60s);
}

TEST_CASE("rpardini's default tiers") {
  const auto policy = enabled_with_defaults();
  // Primary: (stable|nightly|production|test), anchored at the start of the tag.
  CHECK(policy.freshness_window("stable") == 10min);
  CHECK(policy.freshness_window("nightly") == 10min);
  CHECK(policy.freshness_window("production") == 10min);
  CHECK(policy.freshness_window("stable-alpine") == 10min);
  CHECK(policy.freshness_window("testing") == 10min);
  // Secondary: at least three digits or dots.
  CHECK(policy.freshness_window("1.25.3") == std::chrono::days(60));
  CHECK(policy.freshness_window("v1.2") == std::chrono::days(60));
  CHECK(policy.freshness_window("alpine3.18") == std::chrono::days(60));
  // Default tier.
  CHECK(policy.freshness_window("latest") == 1h);  // contains "test", but not at the start
  CHECK(policy.freshness_window("alpine") == 1h);
  CHECK(policy.freshness_window("v1") == 1h);
  // Primary is tried before secondary.
  CHECK(policy.freshness_window("stable-1.2.3") == 10min);
}

TEST_CASE("settings are read by their environment names") {
  const std::map<std::string, std::string> env = {
      {"ENABLE_MANIFEST_CACHE", "true"},
      {"MANIFEST_CACHE_PRIMARY_REGEX", "(edge|main)"},
      {"MANIFEST_CACHE_PRIMARY_TIME", "30s"},
      {"MANIFEST_CACHE_SECONDARY_REGEX", ""},  // empty disables the tier
      {"MANIFEST_CACHE_DEFAULT_TIME", "2h"},
  };
  const auto settings = ManifestCacheSettings::from_lookup(
      [&](std::string_view name) -> std::optional<std::string> {
        const auto found = env.find(std::string(name));
        if (found == env.end()) return std::nullopt;
        return found->second;
      });
  CHECK(settings.secondary_time == "60d");  // unset keeps the default
  const ManifestCachePolicy policy(settings);
  CHECK(policy.freshness_window("edge") == 30s);
  CHECK(policy.freshness_window("1.2.3") == 2h);
  CHECK(policy.freshness_window("stable") == 2h);
  const auto now = now_timestamp();
  CHECK(policy.fresh_until("edge", now) == now + 30s);
}

TEST_CASE("bad settings are rejected naming the setting") {
  ManifestCacheSettings settings;
  settings.secondary_regex = "(unclosed";
  CHECK_THROWS_WITH(ManifestCachePolicy(settings),
                    Catch::Contains("MANIFEST_CACHE_SECONDARY_REGEX"));
  settings = {};
  settings.primary_time = "soon";
  CHECK_THROWS_WITH(ManifestCachePolicy(settings), Catch::Contains("MANIFEST_CACHE_PRIMARY_TIME"));
  settings = {};
  settings.enable = "yes";
  CHECK_THROWS_WITH(ManifestCachePolicy(settings), Catch::Contains("ENABLE_MANIFEST_CACHE"));
}

TEST_CASE("REGISTRY_POLICY's tag_freshness replaces the tiers for the tags it covers") {
  auto per_registry = pt::cache::RegistryPolicy::parse("docker.io/library/* tag_freshness=5m ; quay.io tag_freshness=0");
  REQUIRE(per_registry);
  ManifestCacheSettings settings;  // ENABLE_MANIFEST_CACHE=false: 60 s for every other tag
  const ManifestCachePolicy policy(settings, *per_registry.value);
  CHECK(policy.freshness_window("registry-1.docker.io", "library/alpine", "latest") == std::chrono::minutes(5));
  CHECK(policy.freshness_window("quay.io", "org/app", "stable") == std::chrono::seconds(0));
  CHECK(policy.freshness_window("registry-1.docker.io", "team/app", "latest") == ManifestCachePolicy::kDisabledWindow);
  CHECK(policy.freshness_window("ghcr.io", "org/app", "latest") == ManifestCachePolicy::kDisabledWindow);
  const auto t0 = Timestamp(std::chrono::seconds(1'700'000'000));
  CHECK(policy.fresh_until("registry-1.docker.io", "library/alpine", "3.19", t0) == t0 + std::chrono::minutes(5));
}
