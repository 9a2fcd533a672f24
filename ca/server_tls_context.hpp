#pragma once
// The TLS server settings for the connections the proxy terminates on behalf of a registry host.
#include "ca/leaf_minter.hpp"

#include <asio/ssl/context.hpp>

#include <memory>
#include <string_view>

namespace pt::ca {

// The ALPN protocol we accept; the proxy speaks HTTP/1.1 only.
inline constexpr std::string_view alpn_http_1_1 = "http/1.1";

// A server context presenting `leaf`: TLS 1.2 or newer, no compression, no renegotiation, session
// resumption by session cache and by tickets, and ALPN that selects "http/1.1" when the client
// offers it and otherwise selects nothing (a client offering only "h2" gets no ALPN and, if it
// continues, speaks HTTP/1.1 by default).
//
// Only the leaf is sent, not the root: a client can only validate the chain if it already trusts
// the root, so sending it would cost bytes on every handshake and prove nothing (RFC 8446 4.4.2
// lets the trust anchor be omitted).
std::shared_ptr<asio::ssl::context> make_server_context(const Leaf& leaf);

// The selection rule behind the ALPN callback: the client's wire-format protocol list
// (length-prefixed names) -> "http/1.1" if offered, otherwise empty. Malformed lists yield empty.
std::string_view select_alpn_protocol(std::string_view client_protocols);

}  // namespace pt::ca
