#pragma once
// Authorities ("host", "host:port", "[v6]:port") as they appear in CONNECT requests and in
// configuration entries, parsed into a canonical host and an optional port.
//
// Parsing never throws: CONNECT targets are client input. Error texts never quote the input, so a
// caller may log them as they are; configuration parsers add the (printable) entry themselves.
#include "common/parse_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt {

struct HostPort {
  std::string host;  // lower-case, no trailing dot; an IPv6 address canonical and without brackets
  std::optional<std::uint16_t> port;

  bool operator==(const HostPort&) const = default;
};

enum class PortRule { optional, required };

// "Quay.IO." -> {quay.io}, "quay.io:443" -> {quay.io, 443}, "[::1]:5000" -> {::1, 5000}. A bare
// IPv6 address ("fe80::1") is accepted only without a port, since its last group would be ambiguous.
ParseResult<HostPort> parse_authority(std::string_view text, PortRule port_rule = PortRule::optional);

// The target of a CONNECT request: "host:port" with a port in 1..65535.
ParseResult<HostPort> parse_connect_target(std::string_view text);

// 1..65535, decimal digits only.
std::optional<std::uint16_t> parse_port(std::string_view digits);

// Labels of letters, digits, '-' and '_', each 1..63 long, 253 in all. A name whose last label is
// numeric is refused: resolvers would read it as an IPv4 address ("1.2.3.256"). Returns why the
// name is invalid, or an empty view when it is valid.
std::string_view hostname_problem(std::string_view name);
bool is_valid_hostname(std::string_view name);

// The canonical text of an IPv4 or IPv6 literal (no brackets), or nothing if `text` is not one.
std::optional<std::string> canonical_ip_literal(std::string_view text);
bool is_ipv6_literal(std::string_view host);

// Lower-cases and drops IPv6 brackets and a trailing dot, so that a host taken from anywhere
// compares equal to the hosts kept by the parsers above.
std::string normalize_host(std::string_view host);

// "host", "host:port", or "[v6]:port".
std::string format_authority(const HostPort& authority);
std::string format_authority(std::string_view host, std::optional<std::uint16_t> port);

}  // namespace pt
