#pragma once
// Cross-thread wake-ups for coroutines that live on different io_contexts.
//
// pullthrough runs one io_context per thread, so a coroutine is single-threaded, but shared work
// (a leaf certificate being minted, a cache fill being written) is awaited by coroutines on other
// threads. Asio 1.22 has no cross-executor condition variable, so a waiter parks on a timer of its
// own executor and the notifier posts the timer's cancellation to that executor: the timer is only
// ever touched on the thread that owns it.
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace pt {

class Notifier {
public:
  // The current generation; every notify_all() increments it.
  std::uint64_t generation() const;

  // Returns once generation() differs from `seen` (at once if it already does), or when the calling
  // coroutine is cancelled. Callers re-check their condition afterwards: wake-ups may be spurious.
  asio::awaitable<void> wait_past(std::uint64_t seen);

  void notify_all();

private:
  struct Waiter {
    asio::any_io_executor executor;
    std::shared_ptr<asio::steady_timer> timer;
  };
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::vector<Waiter> waiters_;
};

}  // namespace pt
