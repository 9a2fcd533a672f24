#pragma once
// A token bucket: at most `per_minute` events a minute on average, with bursts up to that many.
// Used where a client can make us do expensive work at will (minting a leaf certificate for every
// host name it can think of). Thread-safe.
#include <algorithm>
#include <chrono>
#include <mutex>

namespace pt {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  // 0: unlimited.
  explicit RateLimiter(unsigned per_minute, Clock::time_point now = Clock::now())
      : capacity_(per_minute), tokens_(per_minute), refilled_(now) {}

  bool try_acquire(Clock::time_point now = Clock::now()) {
    if (capacity_ == 0) return true;
    std::lock_guard lock(mutex_);
    const std::chrono::duration<double, std::ratio<60>> elapsed = now - refilled_;
    tokens_ = std::min<double>(capacity_, tokens_ + elapsed.count() * capacity_);
    refilled_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

private:
  const unsigned capacity_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point refilled_;
};

}  // namespace pt
