#include "proxy/net/egress.hpp"

#include "auth/base64.hpp"
#include "common/ascii.hpp"
#include "common/host_port.hpp"
#include "proxy/http/percent_encoding.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace pt::net {
namespace {

constexpr std::string_view masked_password = "***";

ParseResult<UpstreamProxy> refuse_url(std::string_view url, std::string_view why) {
  return ParseResult<UpstreamProxy>::failure(fmt::format("'{}': {}", printable(mask_url_password(url)), why));
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::string UpstreamProxy::display() const {
  std::string userinfo;
  if (username) userinfo = fmt::format("{}:{}@", http::percent_encode(*username), masked_password);
  return fmt::format("http://{}{}", userinfo, format_authority(host, port));
}

std::optional<std::string> UpstreamProxy::proxy_authorization() const {
  if (!username) return std::nullopt;
  return "Basic " + auth::base64_encode(*username + ":" + password);
}

ParseResult<UpstreamProxy> parse_upstream_proxy(std::string_view url) {
  const std::string_view original = url;
  url = trim(url);
  if (url.empty()) return ParseResult<UpstreamProxy>::failure("empty proxy URL");
  if (const auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const auto scheme = url.substr(0, scheme_end);
    if (iequals(scheme, "https")) {
      return refuse_url(original, "TLS to the proxy (https://) is not supported; give its http:// address");
    }
    if (!iequals(scheme, "http")) return refuse_url(original, "the scheme must be http://");
    url.remove_prefix(scheme_end + 3);
  }
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find_first_of("/?#") != std::string_view::npos) {
    return refuse_url(original, "expected http://[user:password@]host:port, with no path");
  }

  UpstreamProxy proxy;
  // The last '@': a password with a literal '@' in it still parses, since a host has none.
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = url.substr(0, at);
    url.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    auto user = http::percent_decode(userinfo.substr(0, colon));
    auto password = http::percent_decode(colon == std::string_view::npos ? "" : userinfo.substr(colon + 1));
    if (!user || !password) return refuse_url(original, "broken %-escape in the user or password");
    if (user->empty()) return refuse_url(original, "empty user name before '@'");
    proxy.username = std::move(*user);
    proxy.password = std::move(*password);
  }
  auto authority = parse_authority(url, PortRule::required);
  if (!authority) {
    return refuse_url(original, authority.error);
  }
  proxy.host = authority->host;
  proxy.port = *authority->port;
  return ParseResult<UpstreamProxy>::success(std::move(proxy));
}

std::string mask_url_password(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const auto scheme_end = text.find("://", pos);
    if (scheme_end == std::string_view::npos) break;
    const auto authority_start = scheme_end + 3;
    // The authority ends at the first '/', '?', '#' or space; the userinfo at its last '@'.
    auto authority_end = text.find_first_of("/?# \t\r\n", authority_start);
    if (authority_end == std::string_view::npos) authority_end = text.size();
    const auto authority = text.substr(authority_start, authority_end - authority_start);
    const auto at = authority.rfind('@');
    const auto colon = authority.find(':');
    out.append(text.substr(pos, authority_start - pos));
    if (at != std::string_view::npos && colon != std::string_view::npos && colon < at) {
      out.append(authority.substr(0, colon + 1)).append(masked_password).append(authority.substr(at));
    } else {
      out.append(authority);
    }
    pos = authority_end;
  }
  out.append(text.substr(pos));
  return out;
}

ParseResult<NoProxyList> NoProxyList::parse(std::string_view text) {
  NoProxyList list;
  std::string cidr_text;
  for (const auto entry : split_list(text)) {
    auto failure = [&](std::string_view why) {
      return ParseResult<NoProxyList>::failure(fmt::format("entry '{}': {}", printable(entry), why));
    };
    if (entry.find('/') != std::string_view::npos || canonical_ip_literal(entry) ||
        (entry.front() == '[' && entry.back() == ']')) {
      std::string block(entry);
      if (block.front() == '[') block = block.substr(1, block.size() - 2);
      auto one = auth::CidrList::parse(block);
      if (!one) return failure(one.error);
      cidr_text.append(block).append(" ");
      for (auto& e : one->entries()) list.entries_.push_back(std::move(e));
      continue;
    }
    std::string_view name = entry;
    const bool wildcard = istarts_with(name, "*.") || name.front() == '.';
    if (wildcard) name.remove_prefix(name.front() == '*' ? 2 : 1);
    auto normalized = normalize_host(name);
    if (normalized.find(':') != std::string::npos) {
      return failure("a name takes no port here (UPSTREAM_NO_PROXY applies to every port)");
    }
    if (const auto problem = hostname_problem(normalized); !problem.empty()) return failure(problem);
    if (wildcard) {
      list.entries_.push_back("*." + normalized);
      list.suffixes_.push_back("." + normalized);
    } else {
      list.entries_.push_back(normalized);
      list.names_.push_back(std::move(normalized));
    }
  }
  auto cidrs = auth::CidrList::parse(cidr_text);
  if (!cidrs) return ParseResult<NoProxyList>::failure(cidrs.error);
  list.cidrs_ = std::move(*cidrs.value);
  return ParseResult<NoProxyList>::success(std::move(list));
}

bool NoProxyList::matches(std::string_view host) const {
  if (empty()) return false;
  const auto name = normalize_host(host);
  std::error_code not_ip;
  const auto address = asio::ip::make_address(name, not_ip);
  if (!not_ip) return cidrs_.contains(address) || std::find(names_.begin(), names_.end(), name) != names_.end();
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(),
                     [&](const std::string& suffix) { return name.size() > suffix.size() && ends_with(name, suffix); });
}

const UpstreamProxy* Egress::proxy_for(std::string_view host, std::optional<std::string_view> address) const {
  if (!proxy_) return nullptr;
  if (direct_.matches(host)) return nullptr;
  if (address && direct_.matches(*address)) return nullptr;
  return &*proxy_;
}

std::string connect_request(const UpstreamProxy& proxy, std::string_view host, std::uint16_t port) {
  const auto target = format_authority(host, port);
  std::string request = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", target);
  if (auto authorization = proxy.proxy_authorization()) {
    request.append("Proxy-Authorization: ").append(*authorization).append("\r\n");
  }
  request.append("User-Agent: pullthrough\r\n\r\n");
  return request;
}

std::size_t connect_head_length(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') return i + 2;
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') return i + 3;
  }
  return 0;
}

ParseResult<ConnectReply> parse_connect_reply(std::string_view head) {
  const auto line_end = head.find_first_of("\r\n");
  const auto line = head.substr(0, line_end);
  // "HTTP/1.x SP 3DIGIT [SP reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return ParseResult<ConnectReply>::failure(fmt::format("not an HTTP response: '{}'", printable(line, 80)));
  }
  ConnectReply reply;
  const auto digits = line.substr(9, 3);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), reply.status);
  if (error != std::errc() || end != digits.data() + digits.size() || reply.status < 100) {
    return ParseResult<ConnectReply>::failure(fmt::format("bad status in '{}'", printable(line, 80)));
  }
  if (line.size() > 13) reply.reason = printable(trim(line.substr(13)), 80);
  return ParseResult<ConnectReply>::success(std::move(reply));
}

std::optional<std::string> connect_refusal(const ConnectReply& reply, const UpstreamProxy& proxy,
                                           std::string_view target) {
  if (reply.status / 100 == 2) return std::nullopt;
  const auto answer = fmt::format("{}{}{}", reply.status, reply.reason.empty() ? "" : " ", reply.reason);
  std::string hint;
  if (reply.status == 407) {
    hint = proxy.username ? ": it refused the user and password of UPSTREAM_PROXY"
                          : ": it wants credentials (UPSTREAM_PROXY=http://user:password@host:port)";
  } else if (reply.status == 403) {
    hint = ": its policy does not allow this destination";
  } else if (reply.status == 502 || reply.status == 503 || reply.status == 504) {
    hint = ": it could not reach the registry";
  }
  return fmt::format("corporate proxy {} (UPSTREAM_PROXY) refused CONNECT {}: {}{}", proxy.display(), target, answer,
                     hint);
}

}  // namespace pt::net
