#include "proxy/net/tunnel.hpp"

#include "proxy/http/message_io.hpp"

#include <asio/experimental/awaitable_operators.hpp>

#include <array>

namespace pt::net {
namespace {

// Copies one direction; on EOF half-closes the other side so the peer sees the end too.
asio::awaitable<void> pump(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to, std::uint64_t& counter,
                           Deadline& deadline, std::chrono::milliseconds idle) {
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(buffer), nothrow_awaitable);
    if (read_ec) break;
    deadline.expires_after(idle);
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), nothrow_awaitable);
    if (write_ec) break;
    counter += written;
  }
  std::error_code ignored;
  to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace

asio::awaitable<TunnelStats> run_tunnel(asio::ip::tcp::socket& client, asio::ip::tcp::socket& server,
                                        std::string_view early_bytes, Deadline& deadline,
                                        std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  TunnelStats stats;
  deadline.expires_after(idle);
  if (!early_bytes.empty()) {
    if (co_await http::write_all(server, early_bytes)) co_return stats;
    stats.client_to_server += early_bytes.size();
  }
  co_await (pump(client, server, stats.client_to_server, deadline, idle) &&
            pump(server, client, stats.server_to_client, deadline, idle));
  co_return stats;
}

}  // namespace pt::net
