#pragma once
// The name a leaf certificate is issued for, validated and normalised.
//
// Host names arrive from CONNECT requests and SNI, i.e. from anyone who can reach the proxy, so
// they are checked here before any of them reaches OpenSSL. Certificate names are
// case-insensitive, so the normalised form is lower case; it doubles as the leaf cache key.
#include <asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pt::ca {

struct CertHost {
  enum class Kind { dns, ip };

  Kind kind = Kind::dns;
  // A lower-case DNS name, or the canonical text of the IP address (IPv6 without brackets).
  std::string name;
  // The parsed address; meaningful only when kind == Kind::ip.
  asio::ip::address address;

  // Accepts an IPv4 literal, an IPv6 literal (bare or in "[...]"), or a DNS name made of
  // [A-Za-z0-9._-] labels of 1..63 characters, at most 253 characters in all, whose leftmost label
  // may be a lone "*". Returns nullopt for anything else, including an empty string.
  static std::optional<CertHost> parse(std::string_view text);

  // As parse(), but throws std::invalid_argument (quoting the input, escaped) when it is invalid.
  static CertHost parse_or_throw(std::string_view text);
};

}  // namespace pt::ca
