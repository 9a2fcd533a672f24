#pragma once
// ALLOWED_CONNECT: where blind tunnels (CONNECT to hosts that are not intercepted) may go. An open
// CONNECT proxy lets anyone who reaches it use it as a springboard (SSH on port 22, SMTP, internal
// admin ports), so only what registries need is allowed: port 443, and the ports of the listed
// registries, unless configured otherwise.
#include "auth/host_pattern.hpp"
#include "common/parse_result.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pt::auth {

class ConnectPolicy {
public:
  // Entries separated by spaces or commas: "443" or "*:443" (that port on any host),
  // "host:port", "*.suffix:port", "host" (any port of that host). An empty text means port 443 plus
  // `registry_ports`.
  static ParseResult<ConnectPolicy> parse(std::string_view text, const std::vector<std::uint16_t>& registry_ports);

  // `host` normalised as parse_connect_target returns it.
  bool allows(std::string_view host, std::uint16_t port) const;

  std::vector<std::string> entries() const;

private:
  std::set<std::uint16_t> any_host_ports_;
  std::vector<HostPattern> hosts_;
};

// Addresses no tunnel may reach, whatever ALLOWED_CONNECT says: link-local (cloud metadata
// services answer at 169.254.169.254 and fd00:ec2::254), unspecified, multicast and broadcast.
bool is_forbidden_destination(const asio::ip::address& address);

}  // namespace pt::auth
