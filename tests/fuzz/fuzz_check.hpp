#pragma once
// Invariant checks for the libFuzzer targets. A failed check prints what broke and aborts, which
// libFuzzer reports as a crash and saves the input for; assert() would vanish under NDEBUG.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pt::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line, std::string_view note) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s", file, line, condition);
  if (!note.empty()) std::fprintf(stderr, " (%.*s)", static_cast<int>(note.size()), note.data());
  std::fputc('\n', stderr);
  std::abort();
}

// For messages: control bytes and non-ASCII shown as \xNN, so the report stays one line.
inline std::string escaped(std::string_view text, std::size_t max_length = 200) {
  std::string out;
  for (const char c : text.substr(0, max_length)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  if (text.size() > max_length) out += "...";
  return out;
}

}  // namespace pt::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? void() : ::pt::fuzz::check_failed(#condition, __FILE__, __LINE__, {}))
#define FUZZ_CHECK_MSG(condition, note) \
  ((condition) ? void() : ::pt::fuzz::check_failed(#condition, __FILE__, __LINE__, (note)))
