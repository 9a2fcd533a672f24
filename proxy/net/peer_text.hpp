#pragma once
// The client of a connection as logs show it.
#include <asio/ip/tcp.hpp>

#include <string>

namespace pt::net {

// "ip:port", "[v6]:port", or "?" once the peer is gone.
std::string peer_text(const asio::ip::tcp::socket& socket);

}  // namespace pt::net
