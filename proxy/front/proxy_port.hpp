#pragma once
// One accepted client connection, from its first byte to its close: plain requests to the proxy
// itself, CONNECT tunnels, and intercepted CONNECTs handed to a registry session (intercept.hpp).
#include "proxy/front/dependencies.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace pt::front {

// The coroutine that owns the connection. Expected failures end it quietly (with a log line);
// what it throws is a bug, logged by the spawner with the session id.
// Admission (ALLOWED_CLIENTS, connection limits) happens here, before a byte is read.
asio::awaitable<void> serve_client(asio::ip::tcp::socket socket, Dependencies& deps, std::uint64_t session_id);

}  // namespace pt::front
