#pragma once
// Wall-clock time at second resolution: what the index stores (it must survive restarts, so a
// steady clock will not do) and what the freshness and eviction rules compare.
#include <chrono>

namespace pt::cache {

using Timestamp = std::chrono::sys_seconds;

inline Timestamp now_timestamp() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// "Fresh until the end of time": immutable, digest-addressed content.
inline constexpr Timestamp kForever = Timestamp::max();

}  // namespace pt::cache
