#include "proxy/http/forwarding.hpp"

#include "common/host_port.hpp"

#include <array>

namespace pt::http {
namespace {

constexpr std::array<std::string_view, 9> hop_by_hop_fields = {
    "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
    "TE",         "Trailer",    "Transfer-Encoding", "Upgrade",
};

void set_framing(http::Headers& headers, http::BodyFraming framing, std::uint64_t length) {
  headers.remove("Content-Length");
  headers.remove("Transfer-Encoding");
  if (framing == http::BodyFraming::content_length) headers.add("Content-Length", std::to_string(length));
  if (framing == http::BodyFraming::chunked) headers.add("Transfer-Encoding", "chunked");
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
  for (auto field : hop_by_hop_fields) {
    if (http::iequals(name, field)) return true;
  }
  return false;
}

void strip_hop_by_hop(http::Headers& headers) {
  // Fields listed in Connection are hop-by-hop too (RFC 9110 7.6.1). Copied: removal invalidates.
  std::vector<std::string> named;
  for (auto item : headers.list_items("Connection")) named.emplace_back(item);
  for (const auto& name : named) headers.remove(name);
  for (auto field : hop_by_hop_fields) headers.remove(field);
}

http::RequestHead upstream_request(const http::RequestHead& client, const std::optional<std::string>& authorization) {
  http::RequestHead up;
  up.method = client.method;
  up.target = origin_form(client.target);
  up.version_minor = 1;
  up.headers = client.headers;
  strip_hop_by_hop(up.headers);
  up.headers.remove("Expect");
  if (authorization) up.headers.set("Authorization", *authorization);
  up.framing = client.framing;
  up.content_length = client.content_length;
  set_framing(up.headers, up.framing, up.content_length);
  up.keep_alive = true;
  return up;
}

ClientResponse client_response(const http::ResponseHead& upstream, std::string_view request_method,
                               std::string_view cache_status, bool keep_alive) {
  ClientResponse out;
  auto& head = out.head;
  head.status = upstream.status;
  head.reason = upstream.reason.empty() ? std::string(http::reason_phrase(upstream.status)) : upstream.reason;
  head.version_minor = 1;
  head.headers = upstream.headers;
  const std::optional<std::string> head_length =
      request_method == "HEAD" ? std::optional<std::string>(upstream.headers.get("Content-Length")) : std::nullopt;
  strip_hop_by_hop(head.headers);
  head.framing = upstream.framing;
  head.content_length = upstream.content_length;
  if (head.framing == http::BodyFraming::until_close) head.framing = http::BodyFraming::chunked;
  out.chunked = head.framing == http::BodyFraming::chunked;
  set_framing(head.headers, head.framing, head.content_length);
  // A HEAD response announces the length of the body a GET would get (RFC 9110 9.3.2).
  if (head_length) head.headers.set("Content-Length", *head_length);
  if (!cache_status.empty()) head.headers.set("X-Cache", std::string(cache_status));
  head.keep_alive = keep_alive;
  if (!keep_alive) head.headers.set("Connection", "close");
  return out;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" || method == "DELETE";
}

std::string origin_form(std::string_view target) {
  if (target.starts_with('/')) return std::string(target);
  const auto scheme = target.find("://");
  if (scheme == std::string_view::npos) return "/";
  const auto path = target.find('/', scheme + 3);
  return path == std::string_view::npos ? "/" : std::string(target.substr(path));
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::optional<RedirectTarget> redirect_target(std::string_view location, const Origin& from) {
  if (location.starts_with('/') && !location.starts_with("//")) return RedirectTarget{from, std::string(location)};
  constexpr std::string_view https = "https://";
  if (location.size() < https.size() || !http::iequals(location.substr(0, https.size()), https)) return std::nullopt;
  const auto rest = location.substr(https.size());
  const auto slash = rest.find_first_of("/?#");
  const auto authority = parse_authority(rest.substr(0, slash));
  if (!authority) return std::nullopt;
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (target.starts_with('?')) target.insert(0, "/");
  if (const auto fragment = target.find('#'); fragment != std::string::npos) target.resize(fragment);
  return RedirectTarget{Origin{authority->host, authority->port.value_or(443)}, std::move(target)};
}

std::string path_of(std::string_view target) { return std::string(target.substr(0, target.find('?'))); }

}  // namespace pt::http
