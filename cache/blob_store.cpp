#include "cache/blob_store.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/std.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace pt::cache {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

void create_directory_or_throw(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir, ec.message()));
}

}  // namespace

BlobStore::BlobStore(std::filesystem::path root)
    : root_(std::move(root)), blobs_dir_(root_ / "blobs" / "sha256"), temp_dir_(root_ / "tmp") {
  create_directory_or_throw(blobs_dir_);
  create_directory_or_throw(temp_dir_);
}

std::filesystem::path BlobStore::blob_path(const Digest& digest) const {
  const auto hex = std::string(digest.hex());
  return blobs_dir_ / hex.substr(0, 2) / hex;
}

std::optional<BlobWriter> BlobStore::begin_write(std::error_code& ec) const {
  std::string name = (temp_dir_ / "fill-XXXXXX").string();
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    ec = last_error();
    return std::nullopt;
  }
  ec.clear();
  return BlobWriter(UniqueFd(fd), std::move(name), blobs_dir_);
}

std::optional<BlobReader> BlobStore::open(const Digest& digest, std::error_code& ec) const {
  UniqueFd fd(::open(blob_path(digest).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) != 0) {
    ec = last_error();
    return std::nullopt;
  }
  ec.clear();
  return BlobReader(std::move(fd), static_cast<std::uint64_t>(info.st_size));
}

bool BlobStore::contains(const Digest& digest) const {
  std::error_code ec;
  return std::filesystem::is_regular_file(blob_path(digest), ec);
}

std::error_code BlobStore::remove(const Digest& digest) const {
  std::error_code ec;
  std::filesystem::remove(blob_path(digest), ec);
  return ec;
}

std::size_t BlobStore::clear_temp() const {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(temp_dir_, ec)) {
    std::error_code remove_error;
    removed += std::filesystem::remove_all(item.path(), remove_error) > 0 ? 1 : 0;
    if (remove_error) {
      spdlog::warn("cache: cannot remove {}: {}", item.path(), remove_error.message());
    }
  }
  if (ec) spdlog::warn("cache: cannot list {}: {}", temp_dir_, ec.message());
  return removed;
}

std::size_t BlobStore::for_each_blob(
    const std::function<void(const Digest& digest, std::uint64_t size)>& visit) const {
  std::size_t junk = 0;
  const auto remove_junk = [&](const std::filesystem::path& path) {
    std::error_code ignored;
    spdlog::warn("cache: removing unexpected file {}", path);
    junk += std::filesystem::remove_all(path, ignored) > 0 ? 1 : 0;
  };
  std::error_code ec;
  for (const auto& shard : std::filesystem::directory_iterator(blobs_dir_, ec)) {
    const auto shard_name = shard.path().filename().string();
    if (!shard.is_directory() || shard_name.size() != 2) {
      remove_junk(shard.path());
      continue;
    }
    std::error_code shard_error;
    for (const auto& file : std::filesystem::directory_iterator(shard.path(), shard_error)) {
      const auto name = file.path().filename().string();
      const auto digest = Digest::parse("sha256:" + name);
      std::error_code size_error;
      const auto size = file.is_regular_file() ? file.file_size(size_error) : 0;
      if (!digest || !name.starts_with(shard_name) || !file.is_regular_file() || size_error) {
        remove_junk(file.path());
        continue;
      }
      visit(*digest, size);
    }
  }
  return junk;
}

}  // namespace pt::cache
