#include "proxy/net/resolve_overrides.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pt::net {
namespace {

[[noreturn]] void reject(std::string_view entry, std::string_view why) {
  throw std::invalid_argument(fmt::format("UPSTREAM_RESOLVE entry '{}': {}", printable(entry), why));
}

ResolveOverrides::Target parse_target(std::string_view entry, std::string_view text) {
  auto authority = parse_authority(text);
  if (!authority) reject(entry, fmt::format("invalid address: {}", authority.error));
  // The point of an override is to bypass DNS, so a name here would only move the problem.
  if (!canonical_ip_literal(authority->host)) reject(entry, "the address must be an IPv4 or IPv6 literal");
  return {std::move(authority.value->host), authority->port};
}

}  // namespace

ResolveOverrides::ResolveOverrides(std::string_view spec, const DnsResolver* dns, const Egress* egress)
    : dns_(dns), egress_(egress) {
  for (auto entry : split_list(spec)) add(entry);
  // Stable, so equally long suffixes keep their configured order (they cannot overlap anyway).
  std::stable_sort(wildcards_.begin(), wildcards_.end(),
                   [](const auto& a, const auto& b) { return a.first.name.size() > b.first.name.size(); });
}

void ResolveOverrides::add(std::string_view entry) {
  const auto equals = entry.find('=');
  if (equals == std::string_view::npos) reject(entry, "expected name=address");
  auto pattern = auth::parse_host_pattern(entry.substr(0, equals));
  if (!pattern) reject(entry, fmt::format("invalid name: {}", pattern.error));
  if (pattern->port) reject(entry, "the name takes no port; put the port after the address");
  auto target = parse_target(entry, entry.substr(equals + 1));

  const bool duplicate =
      pattern->wildcard
          ? std::any_of(wildcards_.begin(), wildcards_.end(), [&](const auto& w) { return w.first == *pattern; })
          : exact_.contains(pattern->name);
  if (duplicate) reject(entry, fmt::format("'{}' is overridden twice", pattern->to_string()));

  entries_.push_back(fmt::format("{}={}", pattern->to_string(), format_authority(target.address, target.port)));
  if (pattern->wildcard) {
    wildcards_.emplace_back(std::move(*pattern.value), std::move(target));
  } else {
    exact_.emplace(std::move(pattern.value->name), std::move(target));
  }
}

std::optional<ResolveOverrides::Target> ResolveOverrides::lookup(std::string_view host) const {
  if (empty()) return std::nullopt;
  const auto name = normalize_host(host);
  if (const auto it = exact_.find(name); it != exact_.end()) return it->second;
  for (const auto& [pattern, target] : wildcards_) {
    if (pattern.matches_name(name)) return target;
  }
  return std::nullopt;
}

std::vector<std::string> ResolveOverrides::entries() const { return entries_; }

}  // namespace pt::net
