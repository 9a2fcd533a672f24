#include "auth/cache_auth_mode.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace pt::auth {
namespace {

std::optional<CacheAuthMode> parse_mode(std::string_view text) {
  if (iequals(text, "shared")) return CacheAuthMode::shared;
  if (iequals(text, "verify")) return CacheAuthMode::verify;
  return std::nullopt;
}

const char* name_of(CacheAuthMode mode) { return mode == CacheAuthMode::verify ? "verify" : "shared"; }

}  // namespace

ParseResult<CacheAuthModes> CacheAuthModes::parse(std::string_view text) {
  CacheAuthModes modes;
  bool default_seen = false;
  for (const auto entry : split_list(text)) {
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos) {
      const auto mode = parse_mode(entry);
      if (!mode) return ParseResult<CacheAuthModes>::failure(fmt::format("'{}': expected shared or verify", entry));
      if (default_seen) return ParseResult<CacheAuthModes>::failure("more than one default mode");
      default_seen = true;
      modes.default_mode_ = *mode;
      continue;
    }
    const auto mode = parse_mode(entry.substr(equals + 1));
    if (!mode) {
      return ParseResult<CacheAuthModes>::failure(fmt::format("'{}': expected registry=shared or registry=verify", entry));
    }
    auto pattern = parse_host_pattern(entry.substr(0, equals));
    if (!pattern) return ParseResult<CacheAuthModes>::failure(fmt::format("'{}': {}", entry, pattern.error));
    modes.overrides_.emplace_back(std::move(*pattern.value), *mode);
  }
  return ParseResult<CacheAuthModes>::success(std::move(modes));
}

CacheAuthMode CacheAuthModes::mode_for(std::string_view host, std::uint16_t port) const {
  const auto normalized = normalize_host(host);
  for (const auto& [pattern, mode] : overrides_) {
    if (pattern.matches(normalized, port)) return mode;
  }
  return default_mode_;
}

bool CacheAuthModes::any_verify() const {
  return default_mode_ == CacheAuthMode::verify ||
         std::any_of(overrides_.begin(), overrides_.end(),
                     [](const auto& entry) { return entry.second == CacheAuthMode::verify; });
}

std::string CacheAuthModes::describe() const {
  std::string out = name_of(default_mode_);
  for (const auto& [pattern, mode] : overrides_) out += fmt::format(" {}={}", pattern.to_string(), name_of(mode));
  return out;
}

}  // namespace pt::auth
