// Fuzzes parse_command_line() with an empty environment: argv is the input split at NUL bytes.
// Invariants: it never throws; it returns either a Config (exit code 0, no message) or a message
// with exit code 0 (--help, --version) or 2 (usage error); an accepted Config is usable (at least
// one thread, a header limit of at least 1 KiB); the same argv always gives the same answer.
// Arguments naming a configuration file are dropped: reading files is not what is fuzzed here
// (the file's parser has its own target, config_file_fuzz).
#include "fuzz_check.hpp"
#include "proxy/app/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clearenv();  // flags only: an environment variable would fill settings behind the fuzzer's back
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  std::vector<std::string> args = {"pullthrough"};
  for (std::size_t start = 0; start <= input.size() && args.size() < 24;) {
    auto end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    std::string arg(input.substr(start, end - start));
    std::string folded = arg;
    std::transform(folded.begin(), folded.end(), folded.begin(), [](unsigned char c) { return std::tolower(c); });
    if (folded.find("conf") != std::string::npos) return 0;
    args.push_back(std::move(arg));
    start = end + 1;
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  const auto result = pt::app::parse_command_line(static_cast<int>(args.size()), argv.data());
  if (result.config) {
    FUZZ_CHECK(result.exit_code == 0 && result.message.empty());
    FUZZ_CHECK(result.config->threads >= 1);
    FUZZ_CHECK(result.config->max_header_bytes >= 1024);
    FUZZ_CHECK(result.config->config_file.empty());
  } else {
    FUZZ_CHECK(!result.message.empty());
    FUZZ_CHECK(result.exit_code == 0 || result.exit_code == 2);
  }
  const auto again = pt::app::parse_command_line(static_cast<int>(args.size()), argv.data());
  FUZZ_CHECK(again.config.has_value() == result.config.has_value());
  FUZZ_CHECK(again.message == result.message && again.exit_code == result.exit_code);
  return 0;
}
