#include "auth/host_pattern.hpp"

#include "common/host_port.hpp"

namespace pt::auth {

bool HostPattern::matches_name(std::string_view host) const {
  if (!wildcard) return host == name;
  return host.size() > name.size() + 1 && host.ends_with(name) && host[host.size() - name.size() - 1] == '.';
}

bool HostPattern::matches(std::string_view host, std::uint16_t target_port) const {
  return (!port || *port == target_port) && matches_name(host);
}

std::string HostPattern::to_string() const {
  return (wildcard ? "*." : "") + format_authority(name, port);
}

ParseResult<HostPattern> parse_host_pattern(std::string_view text) {
  const bool wildcard = text.starts_with("*.");
  if (wildcard) text.remove_prefix(2);
  if (text.find('*') != std::string_view::npos) {
    return ParseResult<HostPattern>::failure("a wildcard must be a leading '*.' followed by a host name");
  }
  auto authority = parse_authority(text);
  if (!authority) return ParseResult<HostPattern>::failure(std::move(authority.error));
  if (wildcard && canonical_ip_literal(authority->host)) {
    return ParseResult<HostPattern>::failure("a wildcard needs a host name, not an IP address");
  }
  return ParseResult<HostPattern>::success({authority->host, wildcard, authority->port});
}

}  // namespace pt::auth
