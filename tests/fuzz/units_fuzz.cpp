// Fuzzes the duration and size parsers of the configuration (CACHE_MAX_SIZE, timeouts, ...).
// Invariants: they return or throw std::invalid_argument, nothing else; results are in range;
// what they return reads back exactly when written as a plain number, and format_size()'s text
// (what the startup log shows) reads back within its rounding.
#include "common/units.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  using pt::fuzz::escaped;

  try {
    const auto duration = pt::parse_duration(input);
    FUZZ_CHECK_MSG(duration.count() >= 0, escaped(input));
    FUZZ_CHECK(pt::parse_duration(std::to_string(duration.count()) + "ms") == duration);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with("invalid duration"));
  }

  try {
    const std::uint64_t bytes_value = pt::parse_size(input);
    if (bytes_value < (1ull << 53)) {  // parsed through a double: exact up to 2^53
      FUZZ_CHECK_MSG(pt::parse_size(std::to_string(bytes_value)) == bytes_value, escaped(input));
    }
    const std::string formatted = pt::format_size(bytes_value);
    std::uint64_t back = 0;
    try {
      back = pt::parse_size(formatted);
    } catch (const std::invalid_argument& e) {
      FUZZ_CHECK_MSG(false, "format_size output does not parse: " + formatted + ": " + e.what());
    }
    // One decimal of the unit: off by at most 0.05 units, i.e. 5% of the value.
    const double error = back > bytes_value ? double(back - bytes_value) : double(bytes_value - back);
    FUZZ_CHECK_MSG(error <= 0.05 * double(bytes_value) + 1, formatted + " for " + std::to_string(bytes_value));
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with("invalid size"));
  }
  return 0;
}
