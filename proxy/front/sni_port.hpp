#pragma once
// The DNS-hijack listener (INTERCEPT_LISTEN): clients whose DNS points a registry's name at the
// proxy connect here with TLS directly, no CONNECT. The server name of their ClientHello says which
// registry they want: a listed one (REGISTRIES, Docker Hub always) gets a leaf minted for that name
// and is then served exactly as an intercepted CONNECT to name:<this listener's port>; any other
// name is refused with a TLS alert. The real upstream is found through UPSTREAM_RESOLVE or
// RESOLVERS, never by connecting back to this listener (see reaches_listener).
#include "proxy/front/dependencies.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>

namespace pt::front {

asio::awaitable<void> serve_sni_client(asio::ip::tcp::socket socket, Dependencies& deps, std::uint64_t session_id);

}  // namespace pt::front
