#pragma once
// Runs blocking work (key generation, fsync, RocksDB writes) on a thread pool and resumes the
// calling coroutine on its own executor, so the I/O threads never block.
//
// Pass the work as a named variable, not as a lambda written inside the co_await expression:
// GCC 12 destroys such temporaries twice (GCC PR 99576); tests/common guards the named form.
// Deliberately not a coroutine itself, so the work is decay-copied into the initiation.
// A non-void result must be default-constructible (it is empty when the work threw).
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace pt {

template <class F>
auto run_blocking(asio::thread_pool& pool, F&& work_ref) {
  using Work = std::decay_t<F>;
  using Result = std::invoke_result_t<Work&>;
  if constexpr (std::is_void_v<Result>) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
        [&pool](auto handler, Work work) {
          asio::post(pool, [handler = std::move(handler), work = std::move(work)]() mutable {
            std::exception_ptr error;
            try {
              work();
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = asio::get_associated_executor(handler);
            asio::post(executor, [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
          });
        },
        asio::use_awaitable, Work(std::forward<F>(work_ref)));
  } else {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Result)>(
        [&pool](auto handler, Work work) {
          asio::post(pool, [handler = std::move(handler), work = std::move(work)]() mutable {
            std::exception_ptr error;
            std::optional<Result> result;
            try {
              result.emplace(work());
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = asio::get_associated_executor(handler);
            asio::post(executor, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              std::move(handler)(error, result ? std::move(*result) : Result{});
            });
          });
        },
        asio::use_awaitable, Work(std::forward<F>(work_ref)));
  }
}

}  // namespace pt
