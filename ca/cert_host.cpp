#include "ca/cert_host.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pt::ca {
namespace {

constexpr std::size_t max_name_length = 253;
constexpr std::size_t max_label_length = 63;

std::optional<asio::ip::address> parse_ip_literal(std::string_view text) {
  const bool bracketed = text.size() >= 2 && text.front() == '[' && text.back() == ']';
  if (bracketed) text = text.substr(1, text.size() - 2);
  asio::error_code error;
  const auto address = asio::ip::make_address(std::string(text), error);
  if (error) return std::nullopt;
  // Brackets only ever wrap IPv6. A zone ("fe80::1%eth0") is local to one machine and cannot be
  // put in a certificate.
  if (bracketed && !address.is_v6()) return std::nullopt;
  if (address.is_v6() && address.to_v6().scope_id() != 0) return std::nullopt;
  return address;
}

bool is_host_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// A wildcard is only meaningful to TLS clients as the whole leftmost label of a longer name.
bool is_valid_label(std::string_view label, bool leftmost, bool more_labels_follow) {
  if (label.empty() || label.size() > max_label_length) return false;
  if (label == "*") return leftmost && more_labels_follow;
  return std::all_of(label.begin(), label.end(), is_host_character);
}

bool is_valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length) return false;
  bool leftmost = true;
  for (;;) {
    const auto dot = name.find('.');
    const bool more = dot != std::string_view::npos;
    if (!is_valid_label(name.substr(0, dot), leftmost, more)) return false;
    if (!more) return true;
    name.remove_prefix(dot + 1);
    leftmost = false;
  }
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return lower;
}

}  // namespace

std::optional<CertHost> CertHost::parse(std::string_view text) {
  if (const auto address = parse_ip_literal(text)) {
    return CertHost{Kind::ip, address->to_string(), *address};
  }
  if (!is_valid_dns_name(text)) return std::nullopt;
  return CertHost{Kind::dns, to_lower(text), {}};
}

CertHost CertHost::parse_or_throw(std::string_view text) {
  if (auto host = parse(text)) return std::move(*host);
  // The input is attacker-controlled: escape it and cap its length before it can reach a log line.
  constexpr std::size_t max_quoted = 100;
  throw std::invalid_argument(
      fmt::format("not a valid certificate host name: {:?}{}", text.substr(0, max_quoted),
                  text.size() > max_quoted ? "..." : ""));
}

}  // namespace pt::ca
