#include "auth/connect_policy.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pt::auth {

ParseResult<ConnectPolicy> ConnectPolicy::parse(std::string_view text,
                                                const std::vector<std::uint16_t>& registry_ports) {
  ConnectPolicy policy;
  const auto entries = split_list(text);
  if (entries.empty()) {
    policy.any_host_ports_.insert(443);
    policy.any_host_ports_.insert(registry_ports.begin(), registry_ports.end());
    return ParseResult<ConnectPolicy>::success(std::move(policy));
  }
  for (const auto entry : entries) {
    auto port_text = entry;
    if (port_text.starts_with("*:")) port_text.remove_prefix(2);
    if (std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const auto port = parse_port(port_text);
      if (!port) return ParseResult<ConnectPolicy>::failure(fmt::format("'{}': a port must be 1..65535", entry));
      policy.any_host_ports_.insert(*port);
      continue;
    }
    auto pattern = parse_host_pattern(entry);
    if (!pattern) return ParseResult<ConnectPolicy>::failure(fmt::format("'{}': {}", entry, pattern.error));
    policy.hosts_.push_back(std::move(*pattern.value));
  }
  return ParseResult<ConnectPolicy>::success(std::move(policy));
}

bool ConnectPolicy::allows(std::string_view host, std::uint16_t port) const {
  if (any_host_ports_.contains(port)) return true;
  return std::any_of(hosts_.begin(), hosts_.end(), [&](const HostPattern& p) { return p.matches(host, port); });
}

std::vector<std::string> ConnectPolicy::entries() const {
  std::vector<std::string> out;
  for (const auto port : any_host_ports_) out.push_back(fmt::format("*:{}", port));
  for (const auto& pattern : hosts_) out.push_back(pattern.to_string());
  return out;
}

bool is_forbidden_destination(const asio::ip::address& address) {
  if (address.is_unspecified() || address.is_multicast()) return true;
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    if (bytes[0] == 169 && bytes[1] == 254) return true;  // link-local, incl. metadata
    if (address.to_v4() == asio::ip::address_v4::broadcast()) return true;
    return false;
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return is_forbidden_destination(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  if (v6.is_link_local()) return true;
  // AWS's IPv6 metadata endpoint lives in a unique-local prefix of its own.
  static const auto ec2_metadata = asio::ip::make_address_v6("fd00:ec2::254");
  return v6 == ec2_metadata;
}

}  // namespace pt::auth
