#pragma once
// Admission, for every listener's connections before a byte is read: ALLOWED_CLIENTS and the
// connection limits (connection_limits.hpp).
#include "proxy/front/connection_limits.hpp"
#include "proxy/front/dependencies.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <optional>

namespace pt::front {

// Returns the ticket to hold for the connection's life, or nullopt after refusing it: with an HTTP
// error when `http`, else (TLS listeners) by closing it. Always admits when deps.limits is null.
asio::awaitable<std::optional<ConnectionLimits::Ticket>> admit_connection(asio::ip::tcp::socket& socket,
                                                                         Dependencies& deps,
                                                                         std::uint64_t session_id, bool http);

}  // namespace pt::front
