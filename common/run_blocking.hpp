#pragma once
// Runs blocking work (key generation, fsync, RocksDB writes) on a thread pool and resumes the
// calling coroutine on its own executor, so the I/O threads never block.
#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace pt {

template <class F>
auto run_blocking(asio::thread_pool& pool, F work) -> asio::awaitable<std::invoke_result_t<F&>> {
  using Result = std::invoke_result_t<F&>;
  co_return co_await asio::co_spawn(
      pool.get_executor(),
      [work = std::move(work)]() mutable -> asio::awaitable<Result> { co_return work(); },
      asio::use_awaitable);
}

}  // namespace pt
