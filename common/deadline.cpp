#include "common/deadline.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <unordered_set>

namespace pt {
namespace {

// Each io_context runs on one thread, so a thread-local set needs no lock.
thread_local std::unordered_set<Deadline*> t_watched;
std::atomic<bool> g_draining{false};

}  // namespace

void Deadline::expire_now() {
  at_ = clock::now();
  if (timer_) timer_->cancel();
}

void Deadline::rearm() {
  // The watchdog wakes, sees the deadline still ahead, and waits again until the new one.
  armed_ = at_;
  if (timer_) timer_->cancel();
}

asio::awaitable<void> Deadline::watchdog() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer_ = &timer;
  t_watched.insert(this);
  struct Unregister {
    Deadline* self;
    ~Unregister() {
      t_watched.erase(self);
      self->timer_ = nullptr;
      self->armed_ = clock::time_point::min();
    }
  } unregister{this};

  for (auto now = clock::now(); at_ > now; now = clock::now()) {
    if (g_draining && idle_) break;
    armed_ = at_;
    timer.expires_at(at_);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    // The session ended first and `||` cancelled us.
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) break;
  }
}

void Deadline::drain_this_thread() {
  g_draining = true;
  // Copy: expire_now() may run code that unregisters.
  auto watched = t_watched;
  for (auto* d : watched) {
    if (d->idle()) d->expire_now();
  }
}

bool Deadline::draining() { return g_draining; }

}  // namespace pt
