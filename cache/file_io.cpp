#include "cache/file_io.hpp"

#include "cache/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace pt::cache {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace

std::error_code write_all(int fd, std::span<const char> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

std::size_t read_at(int fd, std::uint64_t offset, std::span<char> out, std::error_code& ec) {
  ec.clear();
  std::size_t total = 0;
  while (total < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + total, out.size() - total,
                              static_cast<off_t>(offset + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = last_error();
      return total;
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  return total;
}

std::error_code sync_file(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return last_error();
  }
  return {};
}

std::error_code sync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return last_error();
  return sync_file(fd.get());
}

}  // namespace pt::cache
