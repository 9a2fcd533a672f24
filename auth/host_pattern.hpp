#pragma once
// A configured host name, optionally a "*.suffix" wildcard, optionally limited to one port: the
// unit of REGISTRIES entries (and of the names in UPSTREAM_RESOLVE).
#include "common/parse_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::auth {

struct HostPattern {
  std::string name;                   // lower-case host; for a wildcard, the part after "*."
  bool wildcard = false;              // "*.suffix" matches names ending in ".suffix", not "suffix"
  std::optional<std::uint16_t> port;  // when set, only this port matches

  // `host` must be normalised (see normalize_host); every name matches when `port` is unset.
  bool matches_name(std::string_view host) const;
  bool matches(std::string_view host, std::uint16_t target_port) const;

  // "quay.io", "*.pkg.dev", "myreg:5000", "[::1]:5000".
  std::string to_string() const;

  bool operator==(const HostPattern&) const = default;
};

// "quay.io", "quay.io:5000", "*.pkg.dev", "10.0.0.5:5000", "[fd00::5]:5000". A wildcard is only
// "*." in front of a host name; "*" alone, "*foo.com" and "a.*.com" are refused.
ParseResult<HostPattern> parse_host_pattern(std::string_view text);

}  // namespace pt::auth
