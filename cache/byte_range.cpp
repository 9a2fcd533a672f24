#include "cache/byte_range.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pt::cache {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Digits only: from_chars alone would accept a leading '-' or stop before trailing junk.
std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.front() == '+') {
    return std::nullopt;
  }
  return value;
}

}  // namespace

RangeRequest parse_range(std::optional<std::string_view> header, std::uint64_t size) {
  const RangeRequest full;
  if (!header) return full;
  auto spec = trim(*header);
  constexpr std::string_view kUnit = "bytes=";
  const auto unit_matches = spec.size() >= kUnit.size() &&
      std::equal(kUnit.begin(), kUnit.end(), spec.begin(), [](char expected, char actual) {
        return expected == std::tolower(static_cast<unsigned char>(actual));
      });
  if (!unit_matches) return full;  // range units are case-insensitive
  spec = trim(spec.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return full;  // multi-range: whole body

  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const auto first_text = trim(spec.substr(0, dash));
  const auto last_text = trim(spec.substr(dash + 1));

  RangeRequest result;
  result.kind = RangeRequest::Kind::partial;
  if (first_text.empty()) {  // suffix: the last n bytes
    const auto suffix = parse_number(last_text);
    if (!suffix) return full;
    if (*suffix == 0 || size == 0) return {RangeRequest::Kind::unsatisfiable, {}};
    const auto n = std::min(*suffix, size);
    result.range = {size - n, size - 1};
    return result;
  }
  const auto first = parse_number(first_text);
  if (!first) return full;
  std::optional<std::uint64_t> last;
  if (!last_text.empty()) {
    last = parse_number(last_text);
    if (!last || *last < *first) return full;
  }
  if (*first >= size) return {RangeRequest::Kind::unsatisfiable, {}};
  result.range = {*first, last ? std::min(*last, size - 1) : size - 1};
  return result;
}

std::string content_range(const ByteRange& range, std::uint64_t size) {
  return fmt::format("bytes {}-{}/{}", range.first, range.last, size);
}

std::string unsatisfied_content_range(std::uint64_t size) {
  return fmt::format("bytes */{}", size);
}

}  // namespace pt::cache
