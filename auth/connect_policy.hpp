#pragma once
// ALLOWED_CONNECT: where blind tunnels (CONNECT to hosts that are not intercepted) may go. An open
// CONNECT proxy lets anyone who reaches it use it as a springboard (SSH on port 22, SMTP, internal
// admin ports), so only what registries need is allowed: port 443, and the ports of the listed
// registries, unless configured otherwise.
//
// The policy may change while the proxy runs (SIGHUP re-reads ALLOWED_CONNECT, and REGISTRIES, whose
// ports make the default): like RegistryMatcher, it is an immutable snapshot swapped under a mutex,
// so a check never sees half an update and tunnels already open stay open.
#include "auth/cidr_list.hpp"
#include "auth/host_pattern.hpp"
#include "common/parse_result.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <memory>
#include "common/snapshot.hpp"
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pt::auth {

class ConnectPolicy {
public:
  // Entries separated by spaces or commas: "443" or "*:443" (that port on any host),
  // "host:port", "*.suffix:port", "host" (any port of that host), "[v6]:port", and address blocks
  // "10.0.0.0/8", "10.0.0.0/8:5000", "fd00::/8", "[fd00::/8]:5000" (CONNECTs to IP literals in the
  // block; a name is never resolved to match one). An empty text means port 443 plus
  // `registry_ports`.
  static ParseResult<ConnectPolicy> parse(std::string_view text, const std::vector<std::uint16_t>& registry_ports);

  // Allows nothing.
  ConnectPolicy() = default;

  // A copy holds the same snapshot; assignment is replace().
  ConnectPolicy(const ConnectPolicy&) = default;
  ConnectPolicy& operator=(const ConnectPolicy&) = default;

  // Every later check uses `other`'s entries.
  void replace(const ConnectPolicy& other);

  // `host` normalised as parse_connect_target returns it.
  bool allows(std::string_view host, std::uint16_t port) const;

  std::vector<std::string> entries() const;

  // An address block entry ("10.0.0.0/8", "[fd00::/8]:5000"): IP literal targets inside it.
  struct Block {
    std::string text;
    CidrList addresses;
    std::optional<std::uint16_t> port;  // any port when unset
  };

private:
  struct Rules {
    std::set<std::uint16_t> any_host_ports;
    std::vector<HostPattern> hosts;
    std::vector<Block> blocks;
  };
  std::shared_ptr<const Rules> snapshot() const { return rules_.get(); }

  Snapshot<Rules> rules_;
};

// Addresses no tunnel may reach, whatever ALLOWED_CONNECT says: link-local (169.254.0.0/16,
// fe80::/10; cloud metadata services answer at 169.254.169.254), the IPv6 metadata addresses of AWS
// (fd00:ec2::254) and Google Cloud (fd20:ce::254), unspecified and 0.0.0.0/8, multicast, broadcast,
// deprecated site-local fec0::/10; and IPv6 addresses that carry a forbidden IPv4 one
// (::ffff:169.254.169.254, NAT64 64:ff9b::a9fe:a9fe, 6to4 2002:a9fe:a9fe::).
bool is_forbidden_destination(const asio::ip::address& address);

}  // namespace pt::auth
