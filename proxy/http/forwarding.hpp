#pragma once
// Pure rules for relaying a request upstream and its response back (RFC 9110/9112 hop-by-hop
// handling and framing), kept apart from the I/O so they can be tested on their own.
#include "common/host_port.hpp"
#include "proxy/http/message.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pt::http {

// Connection-level fields that must not be relayed, plus any named in Connection.
bool is_hop_by_hop(std::string_view name);
void strip_hop_by_hop(http::Headers& headers);

// The head we send upstream for a client's request: origin-form target, hop-by-hop fields removed,
// Expect removed (we answer 100-continue ourselves), framing re-stated, and `authorization`
// (injected credentials) set when given.
http::RequestHead upstream_request(const http::RequestHead& client, const std::optional<std::string>& authorization);

// The head we send the client for an upstream response. A body that upstream delimits by closing
// the connection is re-framed as chunked so the client connection can stay open.
struct ClientResponse {
  http::ResponseHead head;
  bool chunked = false;  // the body must go through chunked transfer coding
};
ClientResponse client_response(const http::ResponseHead& upstream, std::string_view request_method,
                               std::string_view cache_status, bool keep_alive);

// Methods that may be sent again on a fresh connection when a kept-alive one turns out dead.
bool is_idempotent(std::string_view method);

// Where a request goes: the registry, or a CDN host it redirected to.
struct Origin {
  std::string host;
  std::uint16_t port = 443;
  // For Host headers and logs: "[v6]:port" brackets an IPv6 literal.
  std::string authority() const {
    return format_authority(host, port == 443 ? std::nullopt : std::optional<std::uint16_t>(port));
  }
};

bool is_redirect(int status);

// The origin and origin-form target a `Location` points at, resolved against the request it
// answered (relative references, as GAR sends, included). Only https is followed: nullopt otherwise.
struct RedirectTarget {
  Origin origin;
  std::string target;
};
std::optional<RedirectTarget> redirect_target(std::string_view location, const Origin& from);

// The origin-form path of a target: "https://h/v2/x?q" -> "/v2/x?q", "/v2/" unchanged.
std::string origin_form(std::string_view target);

// The path of a request target without its query string (which may carry account names).
std::string path_of(std::string_view target);

}  // namespace pt::http
