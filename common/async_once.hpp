#pragma once
// A value produced once and awaited by any number of coroutines on any threads (single-flight).
#include "common/notifier.hpp"

#include <exception>
#include <mutex>
#include <optional>

namespace pt {

template <class T>
class AsyncOnce {
public:
  void set_value(T value) {
    {
      std::lock_guard lock(mutex_);
      value_.emplace(std::move(value));
    }
    ready_.notify_all();
  }

  void set_exception(std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      error_ = std::move(error);
    }
    ready_.notify_all();
  }

  // Waits for the value; rethrows the producer's exception.
  asio::awaitable<T> get() {
    for (;;) {
      const auto seen = ready_.generation();
      {
        std::lock_guard lock(mutex_);
        if (value_) co_return *value_;
        if (error_) std::rethrow_exception(error_);
      }
      co_await ready_.wait_past(seen);
    }
  }

private:
  std::mutex mutex_;
  std::optional<T> value_;
  std::exception_ptr error_;
  Notifier ready_;
};

}  // namespace pt
