#pragma once
// One accepted client connection, from its first byte to its close: plain requests to the proxy
// itself, CONNECT tunnels, and intercepted CONNECTs handed to a MitmSession.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace pt {

struct Services;

// The coroutine that owns the connection. Expected failures end it quietly (with a log line);
// what it throws is a bug, logged by the spawner with the session id.
asio::awaitable<void> serve_client(asio::ip::tcp::socket socket, Services& services, std::uint64_t session_id);

}  // namespace pt
