#include "cache/tar_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace pt::cache {
namespace tar_detail {

std::optional<std::uint64_t> parse_number(std::span<const char> field) {
  if (field.empty()) return std::uint64_t{0};
  const auto first = static_cast<unsigned char>(field[0]);
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement over the whole field; 0xff would be negative.
    if (first != 0x80) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = 1; i < field.size(); ++i) {
      if (value >> 56) return std::nullopt;
      value = (value << 8) | static_cast<unsigned char>(field[i]);
    }
    return value;
  }
  std::size_t i = 0;
  while (i < field.size() && (field[i] == ' ' || field[i] == '\0')) ++i;
  if (i == field.size()) return std::uint64_t{0};  // all blank: some writers leave it so for 0
  std::uint64_t value = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 61) return std::nullopt;
    value = value * 8 + static_cast<std::uint64_t>(field[i] - '0');
  }
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
  }
  return value;
}

std::optional<std::string> normalise_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const auto component = path.substr(start, slash - start);
    start = slash + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") return std::nullopt;
    for (const char c : component) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return std::nullopt;
    }
    if (!out.empty()) out.push_back('/');
    out.append(component);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace tar_detail

namespace {

using tar_detail::parse_number;
using tar_detail::printable;

// ustar header layout (POSIX.1-1988), offsets and lengths.
constexpr std::size_t kName = 0, kNameLen = 100;
constexpr std::size_t kSize = 124, kSizeLen = 12;
constexpr std::size_t kChecksum = 148, kChecksumLen = 8;
constexpr std::size_t kType = 156;
constexpr std::size_t kMagic = 257;
constexpr std::size_t kPrefix = 345, kPrefixLen = 155;

std::string_view c_string(const char* data, std::size_t max) {
  return {data, static_cast<std::size_t>(std::find(data, data + max, '\0') - data)};
}

bool all_zero(std::span<const char> block) {
  return std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; });
}

bool checksum_matches(std::span<const char> block) {
  const auto stored = parse_number(block.subspan(kChecksum, kChecksumLen));
  if (!stored) return false;
  // The checksum is over the header with its own field read as spaces. Historic writers summed
  // signed chars; both sums are accepted, as GNU tar does.
  std::uint64_t unsigned_sum = 0;
  std::int64_t signed_sum = 0;
  for (std::size_t i = 0; i < block.size(); ++i) {
    const char c = (i >= kChecksum && i < kChecksum + kChecksumLen) ? ' ' : block[i];
    unsigned_sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return *stored == unsigned_sum || static_cast<std::int64_t>(*stored) == signed_sum;
}

struct PaxOverrides {
  std::optional<std::string> path;
  std::optional<std::uint64_t> size;
};

// "<length> <key>=<value>\n" records; the length counts the whole record, its own digits included.
std::string parse_pax(std::string_view records, PaxOverrides& out) {
  while (!records.empty()) {
    std::size_t i = 0;
    std::uint64_t length = 0;
    while (i < records.size() && i < 20 && records[i] >= '0' && records[i] <= '9') {
      length = length * 10 + static_cast<std::uint64_t>(records[i] - '0');
      ++i;
    }
    if (i == 0 || i >= records.size() || records[i] != ' ') return "a pax record does not start with its length";
    if (length <= i + 1 || length > records.size()) return "a pax record's length is out of range";
    const auto record = records.substr(0, static_cast<std::size_t>(length));
    if (record.back() != '\n') return "a pax record does not end with a newline";
    const auto body = record.substr(i + 1, record.size() - i - 2);
    const auto equals = body.find('=');
    if (equals == std::string_view::npos || equals == 0) return "a pax record has no key=value";
    const auto key = body.substr(0, equals);
    const auto value = body.substr(equals + 1);
    if (key == "path") {
      if (value.find('\0') != std::string_view::npos) return "a pax path holds a NUL byte";
      out.path = std::string(value);
    } else if (key == "size") {
      if (value.empty() || value.size() > 19 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return "a pax size is not a decimal number";
      }
      std::uint64_t size = 0;
      for (const char c : value) size = size * 10 + static_cast<std::uint64_t>(c - '0');
      out.size = size;
    }
    // Other keys (mtime, uid, linkpath, vendor extensions) do not matter to what is extracted.
    records.remove_prefix(record.size());
  }
  return {};
}

const char* refused_type(char type) {
  switch (type) {
    case '1': return "hard link";
    case '2': return "symbolic link";
    case '3': return "character device";
    case '4': return "block device";
    case '6': return "FIFO";
    default: return nullptr;
  }
}

}  // namespace

TarReader::TarReader(TarSource source, TarLimits limits) : source_(std::move(source)), limits_(limits) {}

bool TarReader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  remaining_ = padding_ = 0;
  return false;
}

bool TarReader::read_exact(std::span<char> out, bool& eof) {
  eof = false;
  std::size_t got = 0;
  while (got < out.size()) {
    std::error_code ec;
    const auto n = source_(out.subspan(got), ec);
    if (ec) return fail(fmt::format("cannot read the archive: {}", ec.message()));
    if (n == 0) {
      eof = got == 0;
      if (!eof) return fail("truncated archive: it ends in the middle of a block");
      return false;
    }
    got += std::min(n, out.size() - got);
  }
  return true;
}

bool TarReader::skip(std::uint64_t bytes) {
  std::array<char, 16384> scratch;
  while (bytes > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, scratch.size()));
    bool eof = false;
    if (!read_exact(std::span(scratch.data(), n), eof)) {
      if (eof) return fail(fmt::format("truncated archive: it ends inside the content of {}", printable(current_)));
      return false;
    }
    bytes -= n;
  }
  return true;
}

std::optional<std::string> TarReader::read_small(std::uint64_t size, const char* what) {
  if (size > limits_.max_extended_header_bytes) {
    fail(fmt::format("{} of {} bytes after {} (limit {})", what, size,
                     current_.empty() ? std::string("the start") : printable(current_),
                     limits_.max_extended_header_bytes));
    return std::nullopt;
  }
  std::string content(static_cast<std::size_t>(size), '\0');
  bool eof = false;
  if (!read_exact(content, eof)) {
    if (eof) fail(fmt::format("truncated archive: it ends inside a {}", what));
    return std::nullopt;
  }
  if (!skip((TarReader::kBlockSize - size % kBlockSize) % kBlockSize)) return std::nullopt;
  return content;
}

std::optional<TarEntry> TarReader::next() {
  if (failed() || ended_) return std::nullopt;
  if (!skip(remaining_ + padding_)) return std::nullopt;
  remaining_ = padding_ = 0;

  PaxOverrides pax;
  std::optional<std::string> long_name;
  std::array<char, kBlockSize> block;
  for (;;) {
    bool eof = false;
    if (!read_exact(block, eof)) {
      if (eof) fail("truncated archive: it ends without the end-of-archive marker");
      return std::nullopt;
    }
    if (all_zero(block)) {
      // The end: two zero blocks, though a single one followed by the end of the input is common.
      if (pax.path || pax.size || long_name) {
        fail("an extended header is followed by the end of the archive, not by its entry");
        return std::nullopt;
      }
      if (!read_exact(block, eof)) {
        if (!eof) return std::nullopt;
      } else if (!all_zero(block)) {
        fail(fmt::format("a zero block in the middle of the archive (after {})", printable(current_)));
        return std::nullopt;
      }
      ended_ = true;
      return std::nullopt;
    }
    if (!checksum_matches(block)) {
      fail(fmt::format("bad header checksum after {} (not a tar archive, or damaged)",
                       current_.empty() ? std::string("the start") : printable(current_)));
      return std::nullopt;
    }
    if (++entries_ > limits_.max_entries) {
      fail(fmt::format("more than {} entries", limits_.max_entries));
      return std::nullopt;
    }
    const auto header_size = parse_number(std::span<const char>(block).subspan(kSize, kSizeLen));
    const char type = block[kType];
    std::string name(c_string(block.data() + kName, kNameLen));
    // POSIX ustar ("ustar\0" "00") splits long names into prefix/name; GNU's "ustar  " uses that
    // space for other fields, and pre-POSIX archives have no magic at all.
    if (std::string_view(block.data() + kMagic, 6) == std::string_view("ustar\0", 6)) {
      const auto prefix = c_string(block.data() + kPrefix, kPrefixLen);
      if (!prefix.empty()) name = std::string(prefix) + "/" + name;
    }
    if (!header_size) {
      fail(fmt::format("entry {}: malformed size field", printable(name)));
      return std::nullopt;
    }
    const std::uint64_t size = pax.size.value_or(*header_size);

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      const char* what = type == 'x'   ? "pax extended header"
                         : type == 'g' ? "pax global header"
                         : type == 'L' ? "GNU long name"
                                       : "GNU long link name";
      auto content = read_small(*header_size, what);
      if (!content) return std::nullopt;
      if (type == 'x') {
        if (auto why = parse_pax(*content, pax); !why.empty()) {
          fail(fmt::format("{} (pax header {})", why, printable(name)));
          return std::nullopt;
        }
      } else if (type == 'L') {
        long_name = content->substr(0, content->find('\0'));
      }
      // Global headers set defaults (mtime, owner) that change nothing extracted here; a long
      // link name only matters to a link, which is refused anyway.
      continue;
    }

    const std::string raw_path = pax.path ? *pax.path : long_name ? *long_name : name;
    current_ = raw_path;
    if (const char* refused = refused_type(type)) {
      fail(fmt::format("entry {} is a {}: links and special files are not accepted", printable(raw_path), refused));
      return std::nullopt;
    }
    TarEntry entry;
    if (type == '0' || type == '\0' || type == '7') {
      entry.type = TarEntry::Type::file;
    } else if (type == '5') {
      entry.type = TarEntry::Type::directory;
    } else {
      fail(fmt::format("entry {} has the unsupported type '{}'", printable(raw_path), printable(std::string(1, type))));
      return std::nullopt;
    }
    if (raw_path.size() > limits_.max_path_bytes) {
      fail(fmt::format("entry {}: path longer than {} bytes", printable(raw_path), limits_.max_path_bytes));
      return std::nullopt;
    }
    auto path = tar_detail::normalise_path(raw_path);
    if (!path) {
      fail(fmt::format("entry {}: unsafe path (absolute, '..', empty or control characters)", printable(raw_path)));
      return std::nullopt;
    }
    if (size > limits_.max_entry_bytes) {
      fail(fmt::format("entry {}: {} bytes, more than the limit of {}", printable(raw_path), size,
                       limits_.max_entry_bytes));
      return std::nullopt;
    }
    entry.path = std::move(*path);
    entry.size = size;
    current_ = entry.path;
    remaining_ = size;
    padding_ = (kBlockSize - size % kBlockSize) % kBlockSize;
    if (entry.type == TarEntry::Type::directory) {
      // A directory's content (some writers list files there) is of no use: skipped.
      if (!skip(remaining_ + padding_)) return std::nullopt;
      remaining_ = padding_ = 0;
      entry.size = 0;
    }
    return entry;
  }
}

std::size_t TarReader::read(std::span<char> out) {
  if (failed() || remaining_ == 0 || out.empty()) return 0;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), remaining_));
  bool eof = false;
  if (!read_exact(out.first(n), eof)) {
    if (eof || error_.starts_with("truncated")) {
      error_.clear();
      fail(fmt::format("truncated archive: it ends inside the content of {}", printable(current_)));
    }
    return 0;
  }
  remaining_ -= n;
  return n;
}

}  // namespace pt::cache
