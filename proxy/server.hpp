#pragma once
// The listeners and the threads: one io_context per thread, so each connection's coroutine runs
// on a single thread without strands; accepted sockets are dealt out round-robin. Every listener
// (the forward proxy, the registry mirror, the DNS-hijack SNI listener) goes through the one accept
// loop, so whatever is decided at accept time applies to all of them. SIGTERM/SIGINT stop
// accepting, close idle connections and give in-flight transfers a grace period.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/connection_limits.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pt {

struct Services;

// "0.0.0.0:3128", "[::]:3128", ":3128" or "3128". Throws std::invalid_argument naming `setting`.
asio::ip::tcp::endpoint parse_listen_address(const std::string& text, std::string_view setting = "LISTEN");

// ALLOWED_CLIENTS and the connection limits, for every listener's connections, before a byte is
// read. Returns the ticket to hold for the
// connection's life, or nullopt after refusing it: with an HTTP error when `http`, else (TLS
// listeners) by closing it. Always admits when services.limits is null.
asio::awaitable<std::optional<ConnectionLimits::Ticket>> admit_connection(asio::ip::tcp::socket& socket,
                                                                         Services& services,
                                                                         std::uint64_t session_id, bool http);

// Serves one accepted connection (the coroutine owns the socket).
using ConnectionHandler = std::function<asio::awaitable<void>(asio::ip::tcp::socket, std::uint64_t session_id)>;

class Server {
public:
  Server(Services& services, unsigned threads);
  ~Server();

  // Binds the forward-proxy listener (LISTEN); throws std::system_error (fatal at start-up) naming
  // the address.
  void listen(const std::string& address);
  // Binds another listener whose connections go to `handler`; `setting` names it in errors and logs.
  void listen(const std::string& address, std::string setting, ConnectionHandler handler);
  // The first listener's address.
  asio::ip::tcp::endpoint local_endpoint() const;

  // Serves until a signal, then drains. Returns the process exit code.
  int run();

private:
  struct Listener {
    std::string setting;
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
    ConnectionHandler handler;
  };

  asio::awaitable<void> accept_loop(Listener& listener);
  asio::awaitable<void> wait_for_signal();
  asio::io_context& next_context();

  Services& services_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::size_t next_ = 0;
  std::atomic<std::size_t> active_sessions_{0};
};

}  // namespace pt
