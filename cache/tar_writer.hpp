#pragma once
// Writes a tar archive (POSIX ustar; a pax extended header for what ustar cannot hold: paths
// over 100 bytes, files of 8 GiB and more), streaming: a file's header first, then its content
// in as many pieces as the caller likes. Pure: the bytes go to a callback.
//
// Entries are written as a reproducible archive wants them: owner 0:0, modes 0644 / 0755, the
// modification time given at construction. Paths must be relative and normal (the reader's
// rules, tar_reader.hpp): the writer refuses what its own reader would.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace pt::cache {

using TarSink = std::function<std::error_code(std::span<const char> bytes)>;

class TarWriter {
public:
  explicit TarWriter(TarSink sink, std::uint64_t mtime = 0);

  std::error_code add_directory(std::string_view path);
  std::error_code add_file(std::string_view path, std::string_view content);

  // A file whose content follows through write(), exactly `size` bytes, then end_file().
  std::error_code begin_file(std::string_view path, std::uint64_t size);
  std::error_code write(std::span<const char> bytes);  // more than announced: invalid_argument
  std::error_code end_file();                          // fewer than announced: invalid_argument

  // The end-of-archive marker (two zero blocks). Nothing may follow.
  std::error_code finish();

  std::uint64_t bytes_written() const noexcept { return written_; }

private:
  std::error_code header(std::string_view path, char type, std::uint64_t size);
  std::error_code emit(std::span<const char> bytes);

  TarSink sink_;
  std::uint64_t mtime_;
  std::uint64_t written_ = 0;
  std::uint64_t remaining_ = 0;  // content bytes of the open file still to come
  std::uint64_t file_size_ = 0;
  bool in_file_ = false;
  bool finished_ = false;
};

}  // namespace pt::cache
