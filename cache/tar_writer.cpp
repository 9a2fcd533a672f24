#include "cache/tar_writer.hpp"

#include "cache/tar_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace pt::cache {
namespace {

constexpr std::size_t kBlock = TarReader::kBlockSize;
constexpr std::uint64_t kMaxOctalSize = (1ull << 33) - 1;  // 11 octal digits

void put_octal(char* field, std::size_t length, std::uint64_t value) {
  // length - 1 digits, zero-padded, then NUL: the form every reader takes.
  const auto text = fmt::format("{:0{}o}", value, length - 1);
  std::memcpy(field, text.data(), std::min(text.size(), length - 1));
  field[length - 1] = '\0';
}

void put_base256(char* field, std::size_t length, std::uint64_t value) {
  std::memset(field, 0, length);
  field[0] = static_cast<char>(0x80);
  for (std::size_t i = length - 1; i > 0 && value > 0; --i, value >>= 8) {
    field[i] = static_cast<char>(value & 0xff);
  }
}

// One pax record: its length counts its own digits, hence the fixed point.
std::string pax_record(std::string_view key, std::string_view value) {
  const auto body = fmt::format(" {}={}\n", key, value);
  std::size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) ++length;
  return std::to_string(length) + body;
}

std::array<char, kBlock> ustar_block(std::string_view name, char type, std::uint64_t size, std::uint64_t mtime) {
  std::array<char, kBlock> block{};
  std::memcpy(block.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  put_octal(block.data() + 100, 8, type == '5' ? 0755 : 0644);
  put_octal(block.data() + 108, 8, 0);
  put_octal(block.data() + 116, 8, 0);
  if (size <= kMaxOctalSize) {
    put_octal(block.data() + 124, 12, size);
  } else {
    put_base256(block.data() + 124, 12, size);
  }
  put_octal(block.data() + 136, 12, std::min<std::uint64_t>(mtime, kMaxOctalSize));
  block[156] = type;
  std::memcpy(block.data() + 257, "ustar\0" "00", 8);
  std::memset(block.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : block) sum += static_cast<unsigned char>(c);
  put_octal(block.data() + 148, 7, sum);
  block[155] = ' ';
  return block;
}

}  // namespace

TarWriter::TarWriter(TarSink sink, std::uint64_t mtime) : sink_(std::move(sink)), mtime_(mtime) {}

std::error_code TarWriter::emit(std::span<const char> bytes) {
  if (bytes.empty()) return {};
  if (auto error = sink_(bytes)) return error;
  written_ += bytes.size();
  return {};
}

std::error_code TarWriter::header(std::string_view path, char type, std::uint64_t size) {
  if (in_file_ || finished_) return std::make_error_code(std::errc::invalid_argument);
  const auto normal = tar_detail::normalise_path(path);
  if (!normal || *normal != path) return std::make_error_code(std::errc::invalid_argument);
  std::string name(path);
  if (type == '5') name += "/";
  std::string records;
  if (name.size() > 100) records += pax_record("path", name);
  if (size > kMaxOctalSize) records += pax_record("size", std::to_string(size));
  if (!records.empty()) {
    const auto pax = ustar_block("PaxHeaders/" + name.substr(0, 80), 'x', records.size(), mtime_);
    if (auto error = emit(pax)) return error;
    if (auto error = emit(records)) return error;
    const std::array<char, kBlock> zeros{};
    if (auto error = emit(std::span(zeros).first((kBlock - records.size() % kBlock) % kBlock))) return error;
  }
  return emit(ustar_block(name, type, size, mtime_));
}

std::error_code TarWriter::add_directory(std::string_view path) { return header(path, '5', 0); }

std::error_code TarWriter::add_file(std::string_view path, std::string_view content) {
  if (auto error = begin_file(path, content.size())) return error;
  if (auto error = write(content)) return error;
  return end_file();
}

std::error_code TarWriter::begin_file(std::string_view path, std::uint64_t size) {
  if (auto error = header(path, '0', size)) return error;
  in_file_ = true;
  remaining_ = file_size_ = size;
  return {};
}

std::error_code TarWriter::write(std::span<const char> bytes) {
  if (!in_file_ || bytes.size() > remaining_) return std::make_error_code(std::errc::invalid_argument);
  remaining_ -= bytes.size();
  return emit(bytes);
}

std::error_code TarWriter::end_file() {
  if (!in_file_ || remaining_ != 0) return std::make_error_code(std::errc::invalid_argument);
  in_file_ = false;
  const std::array<char, kBlock> zeros{};
  return emit(std::span(zeros).first((kBlock - file_size_ % kBlock) % kBlock));
}

std::error_code TarWriter::finish() {
  if (in_file_ || finished_) return std::make_error_code(std::errc::invalid_argument);
  finished_ = true;
  const std::array<char, 2 * kBlock> zeros{};
  return emit(zeros);
}

}  // namespace pt::cache
