#include "common/rate_limiter.hpp"

#include <catch2/catch.hpp>

using pt::RateLimiter;

TEST_CASE("The rate limiter allows a burst, then refills over the minute", "[rate-limiter]") {
  const auto start = RateLimiter::Clock::now();
  RateLimiter limiter(3, start);
  CHECK(limiter.try_acquire(start));
  CHECK(limiter.try_acquire(start));
  CHECK(limiter.try_acquire(start));
  CHECK_FALSE(limiter.try_acquire(start));
  CHECK_FALSE(limiter.try_acquire(start + std::chrono::seconds(10)));  // 0.5 token so far
  CHECK(limiter.try_acquire(start + std::chrono::seconds(20)));        // 1 token at 20 s
  CHECK_FALSE(limiter.try_acquire(start + std::chrono::seconds(21)));
  // Never more than the burst, however long it was idle.
  const auto later = start + std::chrono::hours(1);
  CHECK(limiter.try_acquire(later));
  CHECK(limiter.try_acquire(later));
  CHECK(limiter.try_acquire(later));
  CHECK_FALSE(limiter.try_acquire(later));
}

TEST_CASE("A zero rate means unlimited", "[rate-limiter]") {
  RateLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.try_acquire());
}
