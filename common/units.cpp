#include "common/units.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pt {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Splits "  12.5 GiB " into 12.5 and "gib".
std::pair<double, std::string> number_and_unit(std::string_view text, const char* what) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || text.empty() || value < 0 || !std::isfinite(value)) {
    throw std::invalid_argument(fmt::format("invalid {} '{}'", what, text));
  }
  // A space may separate the number from its unit ("12.5 GiB"), as format_size() writes it.
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.remove_prefix(1);
  return {value, lower(unit)};
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  auto [value, unit] = number_and_unit(text, "duration");
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s" || unit == "sec") ms_per_unit = 1e3;
  else if (unit == "ms") ms_per_unit = 1;
  else if (unit == "m" || unit == "min") ms_per_unit = 60e3;
  else if (unit == "h") ms_per_unit = 3600e3;
  else if (unit == "d") ms_per_unit = 86400e3;
  else if (unit == "w") ms_per_unit = 7 * 86400e3;
  else throw std::invalid_argument(fmt::format("invalid duration '{}': unknown unit '{}' (use ms, s, m, h, d, w)", text, unit));
  const double ms = value * ms_per_unit;
  if (ms > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2)) {
    throw std::invalid_argument(fmt::format("invalid duration '{}': too large", text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::uint64_t parse_size(std::string_view text) {
  auto [value, unit] = number_and_unit(text, "size");
  if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("b")) unit.pop_back();
  double multiplier = 0;
  if (unit.empty() || unit == "b") multiplier = 1;
  else if (unit == "k") multiplier = 1024.0;
  else if (unit == "m") multiplier = 1024.0 * 1024;
  else if (unit == "g") multiplier = 1024.0 * 1024 * 1024;
  else if (unit == "t") multiplier = 1024.0 * 1024 * 1024 * 1024;
  else throw std::invalid_argument(fmt::format("invalid size '{}': unknown unit '{}' (use k, m, g, t)", text, unit));
  const double bytes = value * multiplier;
  if (bytes >= 18e18) throw std::invalid_argument(fmt::format("invalid size '{}': too large", text));
  return static_cast<std::uint64_t>(bytes);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; ++u; }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace pt
