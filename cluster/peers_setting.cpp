#include "cluster/peers_setting.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pt::cluster {

std::string canonical_member(std::string_view text, std::string_view setting) {
  auto parsed = parse_authority(text, PortRule::required);
  if (!parsed) {
    throw std::invalid_argument(
        fmt::format("{}: invalid peer '{}' ({}; expected host:port)", setting, text, parsed.error));
  }
  return format_authority(*parsed);
}

PeersSetting parse_peers(std::string_view text) {
  PeersSetting setting;
  for (const auto& entry : split_list(text)) {
    if (entry.starts_with("dns:")) {
      // dns:NAME:PORT: the name's addresses, each with PORT, are the members.
      const std::string_view rest = std::string_view(entry).substr(4);
      const auto colon = rest.rfind(':');
      const auto name = normalize_host(rest.substr(0, colon == std::string_view::npos ? 0 : colon));
      const auto port = colon == std::string_view::npos ? std::nullopt : parse_port(rest.substr(colon + 1));
      if (!port || !is_valid_hostname(name)) {
        throw std::invalid_argument(fmt::format("PEERS: invalid entry '{}' (expected dns:NAME:PORT)", entry));
      }
      if (setting.dns) throw std::invalid_argument("PEERS: only one dns: entry is allowed");
      setting.dns = PeersSetting::Dns{name, *port};
      continue;
    }
    auto member = canonical_member(entry);
    if (std::find(setting.members.begin(), setting.members.end(), member) == setting.members.end()) {
      setting.members.push_back(std::move(member));
    }
  }
  if (setting.dns && !setting.members.empty()) {
    // Two sources of members would disagree about who owns what on every refresh.
    throw std::invalid_argument("PEERS: a dns: entry cannot be mixed with listed peers");
  }
  return setting;
}

}  // namespace pt::cluster
