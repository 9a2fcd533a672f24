#pragma once
// Hand-made tar pieces for the reader's tests: headers of any type, and archives in memory.
#include "cache/tar_reader.hpp"
#include "cache/tar_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace pt::cache::test {

// A ustar header block with a correct checksum (unless `break_checksum`).
inline std::string tar_header(std::string_view name, char type, std::uint64_t size, bool break_checksum = false) {
  std::string block(512, '\0');
  std::memcpy(block.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  std::memcpy(block.data() + 100, "0000644", 7);
  std::memcpy(block.data() + 108, "0000000", 7);
  std::memcpy(block.data() + 116, "0000000", 7);
  const auto size_text = fmt::format("{:011o}", size);
  std::memcpy(block.data() + 124, size_text.data(), 11);
  std::memcpy(block.data() + 136, "00000000000", 11);
  block[156] = type;
  std::memcpy(block.data() + 257, "ustar\0" "00", 8);
  std::memset(block.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : block) sum += static_cast<unsigned char>(c);
  if (break_checksum) ++sum;
  const auto sum_text = fmt::format("{:06o}", sum);
  std::memcpy(block.data() + 148, sum_text.data(), 6);
  block[154] = '\0';
  return block;
}

inline std::string tar_padded(std::string_view content) {
  std::string out(content);
  out.append((512 - content.size() % 512) % 512, '\0');
  return out;
}

inline std::string tar_end() { return std::string(1024, '\0'); }

// A reader over `bytes`, handing them out `chunk` bytes at a time (short reads are normal).
inline TarSource memory_source(const std::string& bytes, std::size_t chunk = 1 << 20) {
  auto offset = std::make_shared<std::size_t>(0);
  return [&bytes, offset, chunk](std::span<char> out, std::error_code&) -> std::size_t {
    const auto n = std::min({out.size(), bytes.size() - *offset, chunk});
    std::memcpy(out.data(), bytes.data() + *offset, n);
    *offset += n;
    return n;
  };
}

inline TarSink string_sink(std::string& out) {
  return [&out](std::span<const char> bytes) {
    out.append(bytes.data(), bytes.size());
    return std::error_code{};
  };
}

}  // namespace pt::cache::test
