#pragma once
// The listeners and the threads: one io_context per thread, so each connection's coroutine runs
// on a single thread without strands; accepted sockets are dealt out round-robin. Every listener
// (the forward proxy, the registry mirror, the DNS-hijack SNI listener) goes through the one accept
// loop, so whatever is decided at accept time applies to all of them. SIGTERM/SIGINT stop
// accepting, close idle connections and give in-flight transfers a grace period.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/front/dependencies.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pt::front {

// "0.0.0.0:3128", "[::]:3128", ":3128" or "3128". Throws std::invalid_argument naming `setting`.
asio::ip::tcp::endpoint parse_listen_address(const std::string& text, std::string_view setting = "LISTEN");

// Serves one accepted connection (the coroutine owns the socket).
using ConnectionHandler = std::function<asio::awaitable<void>(asio::ip::tcp::socket, std::uint64_t session_id)>;

class Server {
public:
  Server(Dependencies& deps, unsigned threads);
  ~Server();

  // Binds a listener whose connections go to `handler`; `setting` (LISTEN, MIRROR_LISTEN...) names
  // it in errors and logs. Throws std::system_error (fatal at start-up) naming the address.
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

  Dependencies& deps_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::size_t next_ = 0;
  std::atomic<std::size_t> active_sessions_{0};
  std::atomic<std::uint64_t> next_session_{1};
};

}  // namespace pt::front
