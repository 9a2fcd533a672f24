#pragma once
// How upstream names become addresses. Static name overrides (UPSTREAM_RESOLVE), like curl's
// --resolve: send a registry's traffic to a fixed address, e.g. a mirror, a test double, or a host
// DNS cannot see. For other names, the DNS servers of RESOLVERS when set (in DNS-hijack set-ups the
// system resolver points the registries' names at the proxy itself), else the system resolver.
// With a corporate proxy (UPSTREAM_PROXY, an Egress) names are not resolved here at all: the
// connection is a CONNECT through that proxy, which resolves them (see connect_tcp).
//
// Why the egress rides along here: this object is what every upstream connection is handed
// (registry::Dependencies::resolve, and from there each UpstreamConnection), so the corporate proxy
// reaches the registry sessions, token fetches, CDN redirects and blind tunnels without each of
// them learning about it.
#include "auth/host_pattern.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pt::net {

class DnsResolver;
class Egress;

class ResolveOverrides {
public:
  struct Target {
    std::string address;                // canonical IPv4/IPv6 literal, without brackets
    std::optional<std::uint16_t> port;  // when set, replaces the port of the connection too

    bool operator==(const Target&) const = default;
  };

  ResolveOverrides() = default;

  // "name=addr name2=addr2 *.suffix=addr", separated by spaces, commas or newlines. `addr` is an
  // IPv4 or IPv6 literal ("10.0.0.5", "fd00::5", "[fd00::5]"), optionally with a port
  // ("10.0.0.5:5000", "[fd00::5]:5000"). "*.suffix" matches every name ending in ".suffix", not
  // "suffix" itself. Names are case-insensitive. Throws std::invalid_argument naming the bad entry.
  // `dns` (RESOLVERS; null: the system resolver) and `egress` (UPSTREAM_PROXY; null: every
  // connection direct) must outlive every connection.
  explicit ResolveOverrides(std::string_view spec, const DnsResolver* dns = nullptr, const Egress* egress = nullptr);

  const DnsResolver* dns() const { return dns_; }
  const Egress* egress() const { return egress_; }

  // Exact names win over wildcards; among wildcards the longest suffix wins.
  std::optional<Target> lookup(std::string_view host) const;

  bool empty() const { return exact_.empty() && wildcards_.empty(); }

  // "name=addr" per entry, for the startup log.
  std::vector<std::string> entries() const;

private:
  void add(std::string_view entry);

  std::unordered_map<std::string, Target> exact_;
  std::vector<std::pair<auth::HostPattern, Target>> wildcards_;  // longest suffix first
  std::vector<std::string> entries_;
  const DnsResolver* dns_ = nullptr;
  const Egress* egress_ = nullptr;
};

}  // namespace pt::net
