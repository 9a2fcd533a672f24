#include "ca/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/std.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pt::ca {
namespace {

[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path, int error) {
  throw std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(error)));
}

// Closes the descriptor on every path out of write_file_atomically.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error that a deferred close would have swallowed.
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

private:
  int fd_;
};

void write_all(int fd, std::string_view contents, const std::filesystem::path& path) {
  while (!contents.empty()) {
    const ssize_t written = ::write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path, errno);
    }
    contents.remove_prefix(static_cast<std::size_t>(written));
  }
}

// Makes the rename itself durable.
void sync_directory(const std::filesystem::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw_errno("cannot sync directory", dir, errno);
}

}  // namespace

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("cannot open", path, errno);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("cannot read {}", path));
  return std::move(contents).str();
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents, mode_t mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // mkstemp creates the file with mode 0600 and a name no other writer can be using.
  std::string temporary = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  FileDescriptor fd(::mkstemp(temporary.data()));
  if (fd.get() < 0) throw_errno("cannot create a file in directory", dir, errno);
  try {
    if (::fchmod(fd.get(), mode) != 0) throw_errno("cannot set the mode of", temporary, errno);
    write_all(fd.get(), contents, temporary);
    if (::fsync(fd.get()) != 0) throw_errno("cannot sync", temporary, errno);
    if (fd.close() != 0) throw_errno("cannot close", temporary, errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0) throw_errno("cannot rename a file to", path, errno);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(dir);
}

}  // namespace pt::ca
