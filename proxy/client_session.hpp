#pragma once
// One accepted client connection, from its first byte to its close: plain requests to the proxy
// itself, CONNECT tunnels, and intercepted CONNECTs handed to a MitmSession.
#include "proxy/connection_limits.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace pt {

struct Services;

// The coroutine that owns the connection. Expected failures end it quietly (with a log line);
// what it throws is a bug, logged by the spawner with the session id.
// Admission (ALLOWED_CLIENTS, connection limits) happens here, before a byte is read.
asio::awaitable<void> serve_client(asio::ip::tcp::socket socket, Services& services, std::uint64_t session_id);

// Answers an HTTP client that ConnectionLimits refused (403, 429 or 503), logs it, and shuts the
// socket down.
asio::awaitable<void> refuse_connection(asio::ip::tcp::socket& socket, Services& services, std::uint64_t session_id,
                                        ConnectionLimits::Verdict verdict);

}  // namespace pt
