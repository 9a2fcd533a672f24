#pragma once
// Watches the engine's pull progress stream for a failure. The engine answers images/create with
// 200 before it knows whether the pull works, and reports failures inside the stream as a JSON
// message with "error"/"errorDetail" (one JSON object per line). The stream itself is passed on
// untouched; this only looks at it.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pt::dockersock {

class ProgressScanner {
public:
  // Bytes of the de-chunked response body, split anywhere.
  void feed(std::string_view bytes);
  // The body ended: a last line without a newline is looked at too.
  void finish();

  bool failed() const { return error_.has_value(); }
  // The engine's message of the first error in the stream.
  const std::string& error() const { return *error_; }
  std::size_t messages() const { return messages_; }

private:
  void scan_line(std::string_view line);

  // One JSON message is small; a line longer than this is skipped rather than held in memory.
  static constexpr std::size_t max_line = 1 << 20;
  std::string line_;
  bool skipping_ = false;
  std::optional<std::string> error_;
  std::size_t messages_ = 0;
};

}  // namespace pt::dockersock
