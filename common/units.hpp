#pragma once
// Human-friendly durations ("90s", "5m", "60d") and sizes ("32g", "512m"), as rpardini's
// docker-registry-proxy and nginx accept them.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pt {

// A bare number is seconds. Units: ms, s, m, h, d, w. Throws std::invalid_argument with a message
// that quotes the input.
std::chrono::milliseconds parse_duration(std::string_view text);

// A bare number is bytes. Units (case-insensitive, optional trailing "b"/"ib"): k, m, g, t, as
// powers of 1024. Throws std::invalid_argument.
std::uint64_t parse_size(std::string_view text);

std::string format_size(std::uint64_t bytes);

}  // namespace pt
