#include "cache/manifest_cache_policy.hpp"

#include "common/units.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace pt::cache {
namespace {

std::chrono::seconds parse_window(const std::string& text, std::string_view setting) {
  try {
    return std::chrono::duration_cast<std::chrono::seconds>(pt::parse_duration(text));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", setting, e.what()));
  }
}

std::optional<std::regex> compile_tier(const std::string& pattern, std::string_view setting) {
  if (pattern.empty()) return std::nullopt;
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(
        fmt::format("{}: invalid regular expression '{}': {}", setting, pattern, e.what()));
  }
}

bool matches_from_start(const std::regex& pattern, std::string_view tag) {
  return std::regex_search(tag.begin(), tag.end(), pattern, std::regex_constants::match_continuous);
}

}  // namespace

ManifestCacheSettings ManifestCacheSettings::from_lookup(
    const std::function<std::optional<std::string>(std::string_view name)>& lookup) {
  ManifestCacheSettings settings;
  const auto read = [&](std::string_view name, std::string& field) {
    if (auto value = lookup(name)) field = std::move(*value);
  };
  read("ENABLE_MANIFEST_CACHE", settings.enable);
  read("MANIFEST_CACHE_PRIMARY_REGEX", settings.primary_regex);
  read("MANIFEST_CACHE_PRIMARY_TIME", settings.primary_time);
  read("MANIFEST_CACHE_SECONDARY_REGEX", settings.secondary_regex);
  read("MANIFEST_CACHE_SECONDARY_TIME", settings.secondary_time);
  read("MANIFEST_CACHE_DEFAULT_TIME", settings.default_time);
  return settings;
}

ManifestCachePolicy::ManifestCachePolicy() : ManifestCachePolicy(ManifestCacheSettings{}) {}

ManifestCachePolicy::ManifestCachePolicy(const ManifestCacheSettings& settings, RegistryPolicy per_registry)
    : per_registry_(std::move(per_registry)) {
  if (settings.enable != "true" && settings.enable != "false" && !settings.enable.empty()) {
    throw std::invalid_argument(fmt::format(
        "ENABLE_MANIFEST_CACHE: expected 'true' or 'false', got '{}'", settings.enable));
  }
  enabled_ = settings.enable == "true";
  // Validated even when disabled, so a typo surfaces before someone turns the feature on.
  primary_ = {compile_tier(settings.primary_regex, "MANIFEST_CACHE_PRIMARY_REGEX"),
              parse_window(settings.primary_time, "MANIFEST_CACHE_PRIMARY_TIME")};
  secondary_ = {compile_tier(settings.secondary_regex, "MANIFEST_CACHE_SECONDARY_REGEX"),
                parse_window(settings.secondary_time, "MANIFEST_CACHE_SECONDARY_TIME")};
  default_window_ = parse_window(settings.default_time, "MANIFEST_CACHE_DEFAULT_TIME");
}

std::chrono::seconds ManifestCachePolicy::freshness_window(std::string_view tag) const {
  if (!enabled_) return kDisabledWindow;
  for (const Tier* tier : {&primary_, &secondary_}) {
    if (tier->pattern && matches_from_start(*tier->pattern, tag)) return tier->window;
  }
  return default_window_;
}

std::chrono::seconds ManifestCachePolicy::freshness_window(std::string_view registry, std::string_view repository,
                                                          std::string_view tag) const {
  if (auto window = per_registry_.tag_freshness(registry, repository)) return *window;
  return freshness_window(tag);
}

}  // namespace pt::cache
