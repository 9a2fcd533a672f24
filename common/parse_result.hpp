#pragma once
// The outcome of parsing untrusted text: a value, or the reason there is none. Client input (a
// CONNECT target) must never throw, and configuration parsers want the reason to build an error
// message that names the offending entry.
#include <optional>
#include <string>
#include <utility>

namespace pt {

template <class T>
struct ParseResult {
  std::optional<T> value;
  std::string error;  // empty when `value` is set

  static ParseResult success(T v) { return ParseResult{std::move(v), {}}; }
  static ParseResult failure(std::string why) { return ParseResult{std::nullopt, std::move(why)}; }

  explicit operator bool() const { return value.has_value(); }
  const T& operator*() const { return *value; }
  const T* operator->() const { return &*value; }
};

}  // namespace pt
