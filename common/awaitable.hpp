#pragma once
// The completion token every coroutine of the proxy awaits with: failures come back as an
// error_code in a tuple, never as exceptions, so expected failures stay values.
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace pt {

inline constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace pt
