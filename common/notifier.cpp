#include "common/notifier.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

namespace pt {

std::uint64_t Notifier::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

asio::awaitable<void> Notifier::wait_past(std::uint64_t seen) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  {
    std::lock_guard lock(mutex_);
    if (generation_ != seen) co_return;
    waiters_.push_back({executor, timer});
  }
  // Completes with operation_aborted both when notified and when our own coroutine is cancelled.
  co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  std::lock_guard lock(mutex_);
  std::erase_if(waiters_, [&](const Waiter& w) { return w.timer == timer; });
}

void Notifier::notify_all() {
  std::vector<Waiter> woken;
  {
    std::lock_guard lock(mutex_);
    ++generation_;
    woken.swap(waiters_);
  }
  for (auto& w : woken) {
    asio::post(w.executor, [timer = std::move(w.timer)] { timer->cancel(); });
  }
}

}  // namespace pt
