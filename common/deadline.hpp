#pragma once
// One deadline per connection, enforced by a watchdog coroutine raced against the session with
// `||` (the pattern of Asio's echo_server_with_deadline example). Each phase moves the deadline
// (header read, idle wait, body transfer), which costs a clock read, not a timer operation.
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>

namespace pt {

class Deadline {
public:
  using clock = std::chrono::steady_clock;

  // Moving the deadline later costs a clock read. Moving it earlier than the watchdog's timer
  // (e.g. a short UPSTREAM_IDLE_TIMEOUT after a long header wait) re-arms the timer, or the
  // shorter deadline would only be noticed when the old one fired.
  void expires_after(clock::duration d) {
    at_ = clock::now() + d;
    if (at_ < armed_) rearm();
  }
  void expire_now();
  clock::time_point at() const { return at_; }

  // Marks the connection as waiting for a new request, where a graceful shutdown may close it.
  void set_idle(bool idle) { idle_ = idle; }
  bool idle() const { return idle_; }

  // Returns when the deadline has passed. Raced with the session: whichever ends first cancels the
  // other. Registers the connection for graceful shutdown while it runs.
  asio::awaitable<void> watchdog();

  // Called on the connection's own thread when the server starts draining: idle connections end
  // now, busy ones when their current request is done.
  static void drain_this_thread();
  static bool draining();

private:
  clock::time_point at_ = clock::now() + std::chrono::seconds(30);
  bool idle_ = false;
  void rearm();

  asio::steady_timer* timer_ = nullptr;
  clock::time_point armed_ = clock::time_point::min();  // when the watchdog's timer fires
};

}  // namespace pt
