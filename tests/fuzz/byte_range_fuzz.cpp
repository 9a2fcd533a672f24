// Fuzzes the Range header parser of cached blob responses against a second, independent reading
// of RFC 9110 section 14 (single range honoured, multiple ranges and malformed headers answered
// in full, a range wholly past the end unsatisfiable). Invariants besides agreement: a partial
// range lies inside the body, and the Content-Range texts are well formed.
#include "cache/byte_range.hpp"
#include "fuzz_check.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using pt::cache::RangeRequest;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// 1*DIGIT that fits in 64 bits.
std::optional<std::uint64_t> digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

RangeRequest reference(std::optional<std::string_view> header, std::uint64_t size) {
  const RangeRequest full;
  const RangeRequest unsatisfiable{RangeRequest::Kind::unsatisfiable, {}};
  if (!header) return full;
  std::string_view spec = trim(*header);
  if (spec.size() < 6) return full;
  std::string unit(spec.substr(0, 6));
  std::transform(unit.begin(), unit.end(), unit.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  if (unit != "bytes=") return full;
  spec = trim(spec.substr(6));
  if (spec.find(',') != std::string_view::npos) return full;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const auto first_text = trim(spec.substr(0, dash));
  const auto last_text = trim(spec.substr(dash + 1));
  if (first_text.empty()) {
    const auto suffix = digits(last_text);
    if (!suffix) return full;
    if (*suffix == 0 || size == 0) return unsatisfiable;
    return {RangeRequest::Kind::partial, {size - std::min(*suffix, size), size - 1}};
  }
  const auto first = digits(first_text);
  if (!first) return full;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    const auto parsed = digits(last_text);
    if (!parsed || *parsed < *first) return full;
    last = *parsed;
  }
  if (*first >= size) return unsatisfiable;
  return {RangeRequest::Kind::partial, {*first, std::min(last, size - 1)}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider provider(bytes, size);
  const auto flags = provider.ConsumeIntegral<std::uint8_t>();
  // Small sizes and the extremes both matter.
  const std::uint64_t body_size = (flags & 1) ? provider.ConsumeIntegral<std::uint64_t>()
                                              : provider.ConsumeIntegralInRange<std::uint64_t>(0, 1000);
  const std::string text = provider.ConsumeRemainingBytesAsString();
  const std::optional<std::string_view> header =
      (flags & 2) ? std::nullopt : std::optional<std::string_view>(text);

  const auto got = pt::cache::parse_range(header, body_size);
  const auto want = reference(header, body_size);
  const std::string what = pt::fuzz::escaped(text) + " size " + std::to_string(body_size);
  FUZZ_CHECK_MSG(got.kind == want.kind, what);
  if (got.kind == RangeRequest::Kind::partial) {
    FUZZ_CHECK_MSG(got.range.first == want.range.first && got.range.last == want.range.last, what);
    FUZZ_CHECK(got.range.first <= got.range.last && got.range.last < body_size);
    FUZZ_CHECK(got.range.length() <= body_size);
    const std::string content_range = pt::cache::content_range(got.range, body_size);
    FUZZ_CHECK(content_range == "bytes " + std::to_string(got.range.first) + "-" + std::to_string(got.range.last) +
                                    "/" + std::to_string(body_size));
  }
  if (got.kind == RangeRequest::Kind::unsatisfiable) {
    FUZZ_CHECK(pt::cache::unsatisfied_content_range(body_size) == "bytes */" + std::to_string(body_size));
  }
  return 0;
}
