#pragma once
// The one way from a listener into a registry session over TLS, for every port: the certificate
// the client is to see (a leaf minted for the registry's name, or the mirror's own), the handshake
// within the header timeout, a failure logged with its likely fix, then the session.
#include "common/deadline.hpp"
#include "proxy/front/dependencies.hpp"
#include "proxy/registry/session.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace pt::front {

// Our leaf for `host` (minted on first use, off the I/O threads). Null when minting failed (logged
// here) or MAX_CERTS_PER_MINUTE holds new hosts back: the caller refuses the client its own way.
asio::awaitable<std::shared_ptr<asio::ssl::context>> leaf_for(Dependencies& deps, std::uint64_t session,
                                                              const std::string& host);

// How a failed handshake is logged: which port's clients, and what to check.
struct HandshakeLog {
  std::string host;     // as the access log shows it
  std::string method;   // "CONNECT", "TLS", "-"
  registry::CacheStatus cache = registry::CacheStatus::local;
  std::string_view hint;  // "does the client trust /ca.crt?"
};

// Handshakes as the server with `context` on `socket` (`early`: bytes already read from it, the
// start of the ClientHello), then runs the registry session on `deadline`. `mirror`: the mirror
// port's shared state, null elsewhere.
asio::awaitable<void> serve_tls_session(asio::ip::tcp::socket socket, asio::ssl::context& context, std::string early,
                                        Dependencies& deps, Deadline& deadline, registry::SessionInfo info,
                                        const HandshakeLog& log, registry::MirrorContext* mirror = nullptr);

}  // namespace pt::front
