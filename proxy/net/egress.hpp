#pragma once
// Egress through a corporate HTTP proxy (UPSTREAM_PROXY, UPSTREAM_NO_PROXY): whether an upstream
// connection goes straight to its host or as a CONNECT through the proxy, and the text of that
// CONNECT conversation. Pure code: the socket side is connect_tcp (upstream_connection.hpp).
//
// The proxy's password is a secret like the AUTH_REGISTRIES ones: nothing here formats it except
// proxy_authorization(), whose value goes on the wire only. display() and every error text show
// "user:***@". Errors about the URL never quote it unmasked.
#include "auth/cidr_list.hpp"
#include "common/parse_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::net {

struct UpstreamProxy {
  std::string host;  // normalised name or IP literal (no brackets)
  std::uint16_t port = 0;
  std::optional<std::string> username;  // percent-decoded; set when the URL has credentials
  std::string password;                 // percent-decoded; may be empty ("http://user@host:port")

  // "http://host:port", or "http://user:***@host:port": for logs and error messages.
  std::string display() const;
  // "Basic base64(user:password)" for Proxy-Authorization, or nothing without credentials.
  std::optional<std::string> proxy_authorization() const;
};

// "http://[user:password@]host:port[/]". The scheme may be left out (as curl allows). The port is
// required: a proxy has no standard port, so a missing one would be a guess. "https://" (TLS to the
// proxy) is refused, as are a path, a query and a broken %-escape. The error never contains the
// password.
ParseResult<UpstreamProxy> parse_upstream_proxy(std::string_view url);

// `text` with the password of any "scheme://user:password@" in it replaced by "***": for echoing a
// URL that did not parse. Text without "://" and "@" comes back unchanged.
std::string mask_url_password(std::string_view text);

// UPSTREAM_NO_PROXY: what is reached directly despite UPSTREAM_PROXY. Entries (spaces, commas or
// newlines between them): "host" (that name exactly), "*.suffix" or ".suffix" (names ending in
// ".suffix", not "suffix" itself, as in UPSTREAM_RESOLVE), an IP address, or a CIDR block
// ("10.0.0.0/8", "fd00::/8"). CIDRs match addresses only, never a name: the name would have to be
// resolved here, which is what the corporate proxy is for.
class NoProxyList {
public:
  static ParseResult<NoProxyList> parse(std::string_view text);

  // `host`: a name or an IP literal, in any case, with or without a trailing dot or brackets.
  bool matches(std::string_view host) const;

  bool empty() const { return names_.empty() && suffixes_.empty() && cidrs_.empty(); }
  // The entries in canonical form, for the start-up log.
  std::vector<std::string> entries() const { return entries_; }

private:
  std::vector<std::string> names_;
  std::vector<std::string> suffixes_;  // with their leading '.'
  auth::CidrList cidrs_;
  std::vector<std::string> entries_;
};

// The egress decision for every upstream connection.
class Egress {
public:
  Egress() = default;  // no corporate proxy: everything direct
  Egress(UpstreamProxy proxy, NoProxyList direct) : proxy_(std::move(proxy)), direct_(std::move(direct)) {}

  // The proxy to CONNECT through for `host`, or null to connect directly. `address`: where
  // UPSTREAM_RESOLVE sends `host`, if it does; UPSTREAM_NO_PROXY may name either.
  const UpstreamProxy* proxy_for(std::string_view host, std::optional<std::string_view> address = std::nullopt) const;

  const std::optional<UpstreamProxy>& proxy() const { return proxy_; }
  const NoProxyList& direct() const { return direct_; }

private:
  std::optional<UpstreamProxy> proxy_;
  NoProxyList direct_;
};

// The CONNECT request for host:port ("[v6]:port" for an IPv6 address), with Proxy-Authorization
// when the proxy has credentials.
std::string connect_request(const UpstreamProxy& proxy, std::string_view host, std::uint16_t port);

// The length of the response head in `bytes` (up to and including the blank line), or 0 if the
// head has not ended yet. Bare "\n\n" ends it too (lenient, as llhttp is).
std::size_t connect_head_length(std::string_view bytes);

struct ConnectReply {
  int status = 0;
  std::string reason;  // printable, bounded
};

// The status line of the proxy's answer ("HTTP/1.1 200 Connection established").
ParseResult<ConnectReply> parse_connect_reply(std::string_view head);

// Nothing when the tunnel is open (2xx); otherwise the message for the log and the client's 502,
// naming the corporate proxy (masked) and the target, and for 407 saying what to fix.
std::optional<std::string> connect_refusal(const ConnectReply& reply, const UpstreamProxy& proxy,
                                           std::string_view target);

}  // namespace pt::net
