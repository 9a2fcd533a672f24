#include "common/async_once.hpp"
#include "common/notifier.hpp"
#include "common/run_blocking.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

TEST_CASE("AsyncOnce wakes waiters on other io_contexts") {
  pt::AsyncOnce<int> once;
  asio::io_context a, b;
  std::atomic<int> sum{0};
  auto waiter = [&]() -> asio::awaitable<void> { sum += co_await once.get(); };
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(a, waiter(), asio::detached);
    asio::co_spawn(b, waiter(), asio::detached);
  }
  std::thread ta([&] { a.run(); });
  std::thread tb([&] { b.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  once.set_value(7);
  ta.join();
  tb.join();
  CHECK(sum == 42);
}

TEST_CASE("AsyncOnce rethrows the producer's error") {
  pt::AsyncOnce<int> once;
  once.set_exception(std::make_exception_ptr(std::runtime_error("mint failed")));
  asio::io_context io;
  std::string caught;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    try {
      co_await once.get();
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  }, asio::detached);
  io.run();
  CHECK(caught == "mint failed");
}

TEST_CASE("run_blocking runs on the pool and resumes on the caller's thread") {
  asio::thread_pool pool(1);
  asio::io_context io;
  std::thread::id worker, resumed;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    worker = co_await pt::run_blocking(pool, [] { return std::this_thread::get_id(); });
    resumed = std::this_thread::get_id();
  }, asio::detached);
  io.run();
  CHECK(worker != std::this_thread::get_id());
  CHECK(resumed == std::this_thread::get_id());
  pool.join();
}

// GCC 12 destroys a capturing lambda twice when it is a temporary inside a co_await expression, so
// callers name their work first. This guards that pattern.
TEST_CASE("run_blocking with named capturing work") {
  asio::thread_pool pool(1);
  asio::io_context io;
  std::string result;
  const std::string long_text(100, 'x');  // beyond the small-string buffer: a double free would crash
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto work = [long_text] { return long_text + "!"; };
    result = co_await pt::run_blocking(pool, work);
  }, asio::detached);
  io.run();
  CHECK(result == long_text + "!");
  pool.join();
}
