#pragma once
// The listener and the threads: one io_context per thread, so each connection's coroutine runs
// on a single thread without strands; accepted sockets are dealt out round-robin. SIGTERM/SIGINT
// stop accepting, close idle connections and give in-flight transfers a grace period.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace pt {

struct Services;

// "0.0.0.0:3128", "[::]:3128", ":3128" or "3128". Throws std::invalid_argument.
asio::ip::tcp::endpoint parse_listen_address(const std::string& text);

class Server {
public:
  Server(Services& services, unsigned threads);
  ~Server();

  // Binds the listener; throws std::system_error (fatal at start-up) naming the address.
  void listen(const std::string& address);
  asio::ip::tcp::endpoint local_endpoint() const;

  // Serves until a signal, then drains. Returns the process exit code.
  int run();

private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> wait_for_signal();
  asio::io_context& next_context();

  Services& services_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_ = 0;
  std::atomic<std::size_t> active_sessions_{0};
};

}  // namespace pt
