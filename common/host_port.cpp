#include "common/host_port.hpp"

#include "common/ascii.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace pt {
namespace {

constexpr std::size_t max_hostname_length = 253;
constexpr std::size_t max_label_length = 63;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hostname_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '_'; }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

std::optional<std::string> canonical_ip(int family, std::string_view text) {
  // inet_pton wants a NUL-terminated string; anything longer than the longest literal is not one.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string terminated(text);
  std::array<unsigned char, 16> binary{};
  if (inet_pton(family, terminated.c_str(), binary.data()) != 1) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_ntop(family, binary.data(), out.data(), out.size()) == nullptr) return std::nullopt;
  return std::string(out.data());
}

std::string_view without_trailing_dot(std::string_view host) {
  // "quay.io." is the fully qualified spelling of "quay.io"; both must match the same entries.
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  return host;
}

ParseResult<HostPort> with_port(std::string host, std::string_view port_text, bool has_port) {
  if (!has_port) return ParseResult<HostPort>::success({std::move(host), std::nullopt});
  if (port_text.empty()) return ParseResult<HostPort>::failure("empty port after ':'");
  const auto port = parse_port(port_text);
  if (!port) return ParseResult<HostPort>::failure("port must be a number from 1 to 65535");
  return ParseResult<HostPort>::success({std::move(host), port});
}

ParseResult<HostPort> parse_bracketed(std::string_view text) {
  const auto close = text.find(']');
  if (close == std::string_view::npos) return ParseResult<HostPort>::failure("'[' without a closing ']'");
  auto address = canonical_ip(AF_INET6, text.substr(1, close - 1));
  if (!address) return ParseResult<HostPort>::failure("the address in brackets is not an IPv6 address");
  const auto rest = text.substr(close + 1);
  if (!rest.empty() && rest.front() != ':') {
    return ParseResult<HostPort>::failure("unexpected text after ']' (expected ':port')");
  }
  return with_port(std::move(*address), rest.empty() ? rest : rest.substr(1), !rest.empty());
}

ParseResult<HostPort> parse_name_or_ipv4(std::string_view host_text, std::string_view port_text, bool has_port) {
  const auto host = without_trailing_dot(host_text);
  if (host.empty()) return ParseResult<HostPort>::failure("empty host");
  if (auto ipv4 = canonical_ip(AF_INET, host)) return with_port(std::move(*ipv4), port_text, has_port);
  if (const auto problem = hostname_problem(host); !problem.empty()) {
    return ParseResult<HostPort>::failure(std::string(problem));
  }
  return with_port(to_lower(host), port_text, has_port);
}

}  // namespace

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  if (!all_digits(digits) || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string_view hostname_problem(std::string_view name) {
  if (name.empty()) return "empty host";
  if (name.size() > max_hostname_length) return "host name longer than 253 characters";
  std::string_view last_label;
  std::size_t start = 0;
  for (;;) {
    const auto dot = name.find('.', start);
    const auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "empty label in host name (leading, trailing or doubled '.')";
    if (label.size() > max_label_length) return "host name label longer than 63 characters";
    if (!std::all_of(label.begin(), label.end(), is_hostname_char)) {
      return "host name may only contain letters, digits, '-', '_' and '.'";
    }
    last_label = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (all_digits(last_label)) return "numeric host name that is not a valid IPv4 address";
  return {};
}

bool is_valid_hostname(std::string_view name) { return hostname_problem(name).empty(); }

std::optional<std::string> canonical_ip_literal(std::string_view text) {
  if (auto v4 = canonical_ip(AF_INET, text)) return v4;
  return canonical_ip(AF_INET6, text);
}

bool is_ipv6_literal(std::string_view host) { return host.find(':') != std::string_view::npos; }

ParseResult<HostPort> parse_authority(std::string_view text, PortRule port_rule) {
  ParseResult<HostPort> result = [&] {
    if (text.empty()) return ParseResult<HostPort>::failure("empty host");
    if (text.front() == '[') return parse_bracketed(text);
    const auto first_colon = text.find(':');
    if (first_colon == std::string_view::npos) return parse_name_or_ipv4(text, {}, false);
    if (text.find(':', first_colon + 1) != std::string_view::npos) {
      auto address = canonical_ip(AF_INET6, text);
      if (!address) return ParseResult<HostPort>::failure("more than one ':' and not an IPv6 address");
      return ParseResult<HostPort>::success({std::move(*address), std::nullopt});
    }
    return parse_name_or_ipv4(text.substr(0, first_colon), text.substr(first_colon + 1), true);
  }();
  if (result && port_rule == PortRule::required && !result->port) {
    return ParseResult<HostPort>::failure("missing port (expected host:port, or [IPv6]:port)");
  }
  return result;
}

ParseResult<HostPort> parse_connect_target(std::string_view text) {
  return parse_authority(text, PortRule::required);
}

std::string normalize_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return to_lower(without_trailing_dot(host));
}

std::string format_authority(std::string_view host, std::optional<std::uint16_t> port) {
  std::string out = is_ipv6_literal(host) && port ? "[" + std::string(host) + "]" : std::string(host);
  if (port) out += ":" + std::to_string(*port);
  return out;
}

std::string format_authority(const HostPort& authority) { return format_authority(authority.host, authority.port); }

}  // namespace pt
