#pragma once
// The blind byte tunnel for CONNECT targets that are not intercepted: the client talks TLS with
// the real server and sees its real certificate.
#include "common/deadline.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace pt::net {

struct TunnelStats {
  std::uint64_t client_to_server = 0;
  std::uint64_t server_to_client = 0;
};

// Pumps bytes both ways until both sides have finished or the connection is idle for `idle`
// (moves `deadline`). `early_bytes` (sent by the client right behind its CONNECT head) go first.
asio::awaitable<TunnelStats> run_tunnel(asio::ip::tcp::socket& client, asio::ip::tcp::socket& server,
                                        std::string_view early_bytes, Deadline& deadline,
                                        std::chrono::milliseconds idle);

}  // namespace pt::net
