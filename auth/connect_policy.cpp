#include "auth/connect_policy.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pt::auth {

namespace {

// "10.0.0.0/8", "10.0.0.0/8:5000", "fd00::/8", "[fd00::/8]:5000" ("fd00::/8:5000" too: a prefix
// length holds no ':', so what follows one after the '/' is the port).
ParseResult<ConnectPolicy::Block> parse_block(std::string_view entry) {
  using Result = ParseResult<ConnectPolicy::Block>;
  std::string_view cidr = entry;
  std::string_view port_text;
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return Result::failure(fmt::format("'{}': missing ']'", entry));
    cidr = entry.substr(1, close - 1);
    const auto rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return Result::failure(fmt::format("'{}': expected ':port' after ']'", entry));
      port_text = rest.substr(1);
    }
  } else if (const auto colon = entry.rfind(':'); colon != std::string_view::npos && colon > entry.find('/')) {
    cidr = entry.substr(0, colon);
    port_text = entry.substr(colon + 1);
  }
  ConnectPolicy::Block block;
  if (!port_text.empty() || entry.ends_with(':')) {
    block.port = parse_port(port_text);
    if (!block.port) return Result::failure(fmt::format("'{}': a port must be 1..65535", entry));
  }
  auto list = CidrList::parse(cidr);
  if (!list) return Result::failure(fmt::format("'{}': {}", entry, list.error));
  block.text = entry;
  block.addresses = std::move(*list.value);
  return Result::success(std::move(block));
}

}  // namespace

ParseResult<ConnectPolicy> ConnectPolicy::parse(std::string_view text,
                                                const std::vector<std::uint16_t>& registry_ports) {
  auto rules = std::make_shared<Rules>();
  const auto entries = split_list(text);
  if (entries.empty()) {
    rules->any_host_ports.insert(443);
    rules->any_host_ports.insert(registry_ports.begin(), registry_ports.end());
  }
  for (const auto entry : entries) {
    auto port_text = entry;
    if (port_text.starts_with("*:")) port_text.remove_prefix(2);
    if (std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const auto port = parse_port(port_text);
      if (!port) return ParseResult<ConnectPolicy>::failure(fmt::format("'{}': a port must be 1..65535", entry));
      rules->any_host_ports.insert(*port);
      continue;
    }
    if (entry.find('/') != std::string_view::npos) {
      auto block = parse_block(entry);
      if (!block) return ParseResult<ConnectPolicy>::failure(std::move(block.error));
      rules->blocks.push_back(std::move(*block.value));
      continue;
    }
    auto pattern = parse_host_pattern(entry);
    if (!pattern) return ParseResult<ConnectPolicy>::failure(fmt::format("'{}': {}", entry, pattern.error));
    rules->hosts.push_back(std::move(*pattern.value));
  }
  ConnectPolicy policy;
  policy.rules_.replace(std::move(rules));
  return ParseResult<ConnectPolicy>::success(std::move(policy));
}

void ConnectPolicy::replace(const ConnectPolicy& other) { rules_.replace(other.snapshot()); }

bool ConnectPolicy::allows(std::string_view host, std::uint16_t port) const {
  const auto rules = snapshot();
  if (rules->any_host_ports.contains(port)) return true;
  const auto& hosts = rules->hosts;
  if (std::any_of(hosts.begin(), hosts.end(), [&](const HostPattern& p) { return p.matches(host, port); })) {
    return true;
  }
  const auto& blocks = rules->blocks;
  if (blocks.empty()) return false;
  std::error_code not_ip;
  const auto address = asio::ip::make_address(normalize_host(host), not_ip);
  if (not_ip) return false;  // a block matches addresses, never a name (resolving it here would be a race)
  return std::any_of(blocks.begin(), blocks.end(), [&](const Block& block) {
    return (!block.port || *block.port == port) && block.addresses.contains(address);
  });
}

std::vector<std::string> ConnectPolicy::entries() const {
  const auto rules = snapshot();
  std::vector<std::string> out;
  for (const auto port : rules->any_host_ports) out.push_back(fmt::format("*:{}", port));
  for (const auto& pattern : rules->hosts) out.push_back(pattern.to_string());
  for (const auto& block : rules->blocks) out.push_back(block.text);
  return out;
}

namespace {

bool forbidden_v4(const asio::ip::address_v4& v4) {
  const auto bytes = v4.to_bytes();
  if (bytes[0] == 0) return true;                       // 0.0.0.0/8, "this network" (0.0.0.0 is this host)
  if (bytes[0] == 169 && bytes[1] == 254) return true;  // link-local, incl. metadata
  return v4 == asio::ip::address_v4::broadcast() || v4.is_multicast();
}

// The IPv4 address an IPv6 one carries to an IPv4 host: mapped (::ffff:a.b.c.d), translated
// (::ffff:0:a.b.c.d), the deprecated compatible form (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d and the
// local-use 64:ff9b:1::/48) and 6to4 (2002:aabb:ccdd::/48).
std::optional<asio::ip::address_v4> embedded_v4(const asio::ip::address_v6& v6) {
  const auto b = v6.to_bytes();
  auto tail = [&](std::size_t at) { return asio::ip::address_v4({b[at], b[at + 1], b[at + 2], b[at + 3]}); };
  auto zero = [&](std::size_t from, std::size_t to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](unsigned char c) { return c == 0; });
  };
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return tail(12);                          // ::ffff:a.b.c.d
  if (zero(0, 8) && b[8] == 0xff && b[9] == 0xff && zero(10, 12)) return tail(12);             // ::ffff:0:a.b.c.d
  if (zero(0, 12) && !(zero(12, 15) && b[15] <= 1)) return tail(12);                           // ::a.b.c.d (not :: or ::1)
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (zero(4, 12)) return tail(12);                                                          // 64:ff9b::/96
    if (b[4] == 0 && b[5] == 1) return tail(12);                                               // 64:ff9b:1::/48
  }
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);                                            // 2002::/16
  return std::nullopt;
}

}  // namespace

bool is_forbidden_destination(const asio::ip::address& address) {
  if (address.is_unspecified() || address.is_multicast()) return true;
  if (address.is_v4()) return forbidden_v4(address.to_v4());
  const auto v6 = address.to_v6();
  if (const auto v4 = embedded_v4(v6)) return forbidden_v4(*v4);
  if (v6.is_link_local() || v6.is_site_local()) return true;  // fe80::/10, and the deprecated fec0::/10
  // Cloud metadata services on IPv6, in unique-local prefixes of their own: AWS, Google Cloud.
  static const auto ec2_metadata = asio::ip::make_address_v6("fd00:ec2::254");
  static const auto gce_metadata = asio::ip::make_address_v6("fd20:ce::254");
  return v6 == ec2_metadata || v6 == gce_metadata;
}

}  // namespace pt::auth
