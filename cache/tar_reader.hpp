#pragma once
// Reads tar archives (POSIX ustar, pax extended headers, GNU long names) one entry at a time,
// streaming: an entry's content is handed out in pieces, never held whole. Pure: the bytes come
// from a callback, so it runs the same on a file, a pipe or a fuzzer's buffer.
//
// Made for archives from anywhere (`cache import` of a file carried into an air-gapped site), so
// it refuses rather than guesses: paths that are absolute or climb out (".."), links, devices and
// FIFOs, unknown entry types, bad header checksums, malformed numbers or pax records, an archive
// that ends before its end-of-archive marker, and anything beyond TarLimits. The first error
// ends the reading; error() says what it was and names the entry. No input makes it crash or
// allocate more than the limits allow.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <system_error>

namespace pt::cache {

struct TarLimits {
  std::size_t max_entries = 100000;
  std::size_t max_path_bytes = 1024;
  // pax extended headers and GNU long names are read into memory: this much at most each.
  std::size_t max_extended_header_bytes = 64 << 10;
  std::uint64_t max_entry_bytes = 1ull << 40;  // 1 TiB
};

struct TarEntry {
  enum class Type { file, directory };
  // Relative and normalised: no leading "/" or "./", no "." or ".." components, no empty
  // components, no trailing "/" (also for directories).
  std::string path;
  Type type = Type::file;
  std::uint64_t size = 0;
};

// Fills up to out.size() bytes; returns 0 at the end of the input. An error sets `ec`.
using TarSource = std::function<std::size_t(std::span<char> out, std::error_code& ec)>;

class TarReader {
public:
  static constexpr std::size_t kBlockSize = 512;

  explicit TarReader(TarSource source, TarLimits limits = {});

  // The next entry, skipping what is left of the current one. nullopt at the end of the archive
  // or on an error (then error() is set).
  std::optional<TarEntry> next();

  // Content of the current entry: fewer than out.size() bytes only at its end, 0 once it is all
  // read (or on an error).
  std::size_t read(std::span<char> out);

  // Empty while all is well.
  const std::string& error() const noexcept { return error_; }
  bool failed() const noexcept { return !error_.empty(); }

private:
  // Exactly out.size() bytes, or false (error set unless the input ended cleanly before any byte
  // and `eof_ok`).
  bool read_exact(std::span<char> out, bool& eof);
  bool skip(std::uint64_t bytes);
  bool fail(std::string message);
  // Reads an extended header's content (pax or GNU long name) into memory.
  std::optional<std::string> read_small(std::uint64_t size, const char* what);

  TarSource source_;
  TarLimits limits_;
  std::string error_;
  std::string current_;        // path of the current entry, for messages
  std::uint64_t remaining_ = 0;  // content bytes of the current entry not read yet
  std::uint64_t padding_ = 0;    // then padding up to the next block
  std::size_t entries_ = 0;
  bool ended_ = false;
};

// The pure helpers, exposed for tests.
namespace tar_detail {
// A numeric header field: octal digits (leading spaces or NULs, ended by a space or NUL), or
// GNU base-256 (first byte 0x80). nullopt for anything else or a negative number.
std::optional<std::uint64_t> parse_number(std::span<const char> field);
// An archive path made relative and normal (see TarEntry::path); nullopt when it is absolute,
// climbs with "..", is empty, or holds control characters.
std::optional<std::string> normalise_path(std::string_view path);
// Text made safe to print in a message: control bytes and non-ASCII as \xNN, at most 200 bytes.
std::string printable(std::string_view text);
}  // namespace tar_detail

}  // namespace pt::cache
