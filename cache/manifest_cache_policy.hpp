#pragma once
// How long a manifest fetched by tag is served without asking upstream again.
//
// Mirrors rpardini/docker-registry-proxy's settings and defaults. There, each tier becomes an
// nginx `location ~ ^/v2/(.*)/manifests/<REGEX>`: the regex is matched against the request URI
// (without its query), anchored right after "/manifests/" but not at the end. Since what follows
// "/manifests/" is exactly the reference, we match the regex against the tag, anchored at its
// start and unanchored at its end (so the primary default "(stable|nightly|production|test)" also
// matches "stable-alpine" and "testing", but not "latest"). The tiers are tried in order:
// primary, secondary, default. Regexes are ECMAScript (std::regex), which covers the PCRE
// subset rpardini's defaults use (groups, alternation, \d); PCRE-only constructs such as
// look-behind are rejected at start-up. An empty regex disables its tier, as in rpardini.
//
// With ENABLE_MANIFEST_CACHE unset or false every tag is fresh for 60 s: rpardini does not cache
// manifests then, but a short window absorbs a burst of identical pulls (a CI fan-out) while a
// pushed tag is still seen within a minute.
//
// REGISTRY_POLICY's tag_freshness (registry_policy.hpp) replaces all of this for the tags of the
// registries and repositories it names, whether ENABLE_MANIFEST_CACHE is set or not.
#include "cache/registry_policy.hpp"
#include "cache/timestamp.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace pt::cache {

// The settings as the environment spells them; defaults are rpardini's.
struct ManifestCacheSettings {
  std::string enable = "false";  // ENABLE_MANIFEST_CACHE
  std::string primary_regex = "(stable|nightly|production|test)";  // MANIFEST_CACHE_PRIMARY_REGEX
  std::string primary_time = "10m";                                 // MANIFEST_CACHE_PRIMARY_TIME
  std::string secondary_regex = R"((.*)(\d|\.)+(.*)(\d|\.)+(.*)(\d|\.)+)";  // ..._SECONDARY_REGEX
  std::string secondary_time = "60d";                               // ..._SECONDARY_TIME
  std::string default_time = "1h";                                  // MANIFEST_CACHE_DEFAULT_TIME

  // Reads each setting by its environment name; unset names keep their default.
  static ManifestCacheSettings from_lookup(
      const std::function<std::optional<std::string>(std::string_view name)>& lookup);
};

class ManifestCachePolicy {
public:
  static constexpr std::chrono::seconds kDisabledWindow{60};

  ManifestCachePolicy();  // rpardini's defaults with manifest caching disabled

  // Throws std::invalid_argument naming the offending setting (bad regex or duration).
  // `per_registry`: REGISTRY_POLICY, whose tag_freshness wins for the tags it covers.
  explicit ManifestCachePolicy(const ManifestCacheSettings& settings, RegistryPolicy per_registry = {});

  // The window by the MANIFEST_CACHE_* tiers alone.
  std::chrono::seconds freshness_window(std::string_view tag) const;
  // The window of a tag of `repository` at `registry` (as cache keys spell it).
  std::chrono::seconds freshness_window(std::string_view registry, std::string_view repository,
                                        std::string_view tag) const;

  Timestamp fresh_until(std::string_view tag, Timestamp fetched_at) const {
    return fetched_at + freshness_window(tag);
  }
  Timestamp fresh_until(std::string_view registry, std::string_view repository, std::string_view tag,
                        Timestamp fetched_at) const {
    return fetched_at + freshness_window(registry, repository, tag);
  }

private:
  struct Tier {
    std::optional<std::regex> pattern;  // nullopt: the tier is disabled
    std::chrono::seconds window{0};
  };
  bool enabled_ = false;
  Tier primary_;
  Tier secondary_;
  std::chrono::seconds default_window_{3600};
  RegistryPolicy per_registry_;
};

}  // namespace pt::cache
