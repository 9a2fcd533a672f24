#include "proxy/front/server.hpp"

#include "common/deadline.hpp"
#include "common/host_port.hpp"
#include "proxy/http/message_io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>

namespace pt::front {

using asio::ip::tcp;

tcp::endpoint parse_listen_address(const std::string& text, std::string_view setting) {
  std::string host = "0.0.0.0";
  std::string port = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    bool bracketed = false;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
      bracketed = true;
    }
    if (host.empty()) host = "0.0.0.0";
    // "::1" would read as [::]:1: an IPv6 address takes brackets when a port follows.
    if (!bracketed && host.find(':') != std::string::npos) host.clear();
  }
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  unsigned long number = 0;
  try {
    std::size_t used = 0;
    number = std::stoul(port, &used);
    if (used != port.size()) number = 0;
  } catch (const std::exception&) {
    number = 0;
  }
  if (ec || number == 0 || number > 65535) {
    throw std::invalid_argument(
        fmt::format("invalid {} address '{}' (expected ip:port, e.g. 0.0.0.0:3128, [::]:3128 or [::1]:3128)", setting, text));
  }
  return {address, static_cast<unsigned short>(number)};
}

Server::Server(Dependencies& deps, unsigned threads) : deps_(deps) {
  for (unsigned i = 0; i < std::max(1u, threads); ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
  }
}

Server::~Server() = default;

void Server::listen(const std::string& address, std::string setting, ConnectionHandler handler) {
  const auto endpoint = parse_listen_address(address, setting);
  auto listener = std::make_unique<Listener>();
  listener->acceptor = std::make_unique<tcp::acceptor>(*contexts_.front());
  auto& acceptor = *listener->acceptor;
  std::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // [::] is dual-stack (IPv4 clients arrive as ::ffff:a.b.c.d), whatever net.ipv6.bindv6only says.
  if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, fmt::format("cannot listen on {} ({})", address, setting));
  listener->setting = std::move(setting);
  listener->handler = std::move(handler);
  listeners_.push_back(std::move(listener));
}

tcp::endpoint Server::local_endpoint() const { return listeners_.front()->acceptor->local_endpoint(); }

asio::io_context& Server::next_context() {
  auto& context = *contexts_[next_];
  next_ = (next_ + 1) % contexts_.size();
  return context;
}

// The one accept path of every listener.
asio::awaitable<void> Server::accept_loop(Listener& listener) {
  auto& acceptor = *listener.acceptor;
  for (;;) {
    auto& context = next_context();
    auto [ec, socket] = co_await acceptor.async_accept(context, nothrow_awaitable);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of file descriptors, typically: back off instead of spinning.
      spdlog::warn("accept failed ({}): {}", listener.setting, ec.message());
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow_awaitable);
      continue;
    }
    const auto id = next_session_++;
    ++active_sessions_;
    asio::co_spawn(context, listener.handler(std::move(socket), id), [this, id](std::exception_ptr error) {
      --active_sessions_;
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::system_error& e) {
        // Cancellation by the deadline watchdog or at shutdown surfaces here; it is not a bug.
        if (e.code() == asio::error::operation_aborted) {
          spdlog::debug("session {} cancelled", id);
          return;
        }
        spdlog::error("session {} ended with an exception: {}", id, e.what());
      } catch (const std::exception& e) {
        spdlog::error("session {} ended with an exception: {}", id, e.what());
      }
    });
  }
}

asio::awaitable<void> Server::wait_for_signal() {
  auto executor = co_await asio::this_coro::executor;
  asio::signal_set signals(executor, SIGINT, SIGTERM);
  auto [ec, number] = co_await signals.async_wait(nothrow_awaitable);
  if (ec) co_return;
  spdlog::info("signal {}: no longer accepting; draining {} connection(s) for up to {} s", number,
               active_sessions_.load(),
               std::chrono::duration_cast<std::chrono::seconds>(deps_.settings.shutdown_grace).count());
  deps_.serving = false;
  std::error_code ignored;
  for (auto& listener : listeners_) listener->acceptor->close(ignored);
  for (auto& context : contexts_) asio::post(*context, [] { Deadline::drain_this_thread(); });

  // A second signal, or the end of the grace period, stops whatever is left.
  bool forced = false;
  asio::steady_timer tick(executor);
  const auto give_up = std::chrono::steady_clock::now() + deps_.settings.shutdown_grace;
  signals.async_wait([&forced](std::error_code ec, int) { if (!ec) forced = true; });
  while (active_sessions_ > 0 && !forced && std::chrono::steady_clock::now() < give_up) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(nothrow_awaitable);
  }
  signals.cancel();
  if (active_sessions_ > 0) spdlog::warn("stopping with {} connection(s) still open", active_sessions_.load());
  for (auto& context : contexts_) context->stop();
}

int Server::run() {
  auto log_failure = [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::critical("server task failed: {}", e.what());
    }
  };
  auto& main = *contexts_.front();
  for (auto& listener : listeners_) asio::co_spawn(main, accept_loop(*listener), log_failure);
  asio::co_spawn(main, wait_for_signal(), log_failure);
  deps_.serving = true;
  for (const auto& listener : listeners_) {
    const auto endpoint = listener->acceptor->local_endpoint();
    const bool dual_stack = endpoint.address().is_v6() && endpoint.address().is_unspecified();
    spdlog::info("listening on {} ({}{}) with {} thread(s)", format_authority(endpoint.address().to_string(), endpoint.port()),
                 listener->setting, dual_stack ? ", IPv6 and IPv4" : "", contexts_.size());
  }

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([&context = *contexts_[i]] {
      // Keep idle threads alive until stop(); sessions arrive at any time.
      auto guard = asio::make_work_guard(context);
      context.run();
    });
  }
  main.run();
  for (auto& context : contexts_) context->stop();
  for (auto& t : threads) t.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace pt::front
