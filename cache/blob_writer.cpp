#include "cache/blob_writer.hpp"

#include "cache/cache_error.hpp"
#include "cache/file_io.hpp"

#include <cstdio>
#include <utility>

namespace pt::cache {

BlobWriter::BlobWriter(UniqueFd fd, std::filesystem::path temp_path,
                       std::filesystem::path blobs_root)
    : fd_(std::move(fd)), temp_path_(std::move(temp_path)), blobs_root_(std::move(blobs_root)) {}

// Moves are explicit so that a moved-from writer can never delete the file it handed over.
BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : fd_(std::move(other.fd_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      blobs_root_(std::move(other.blobs_root_)),
      hasher_(std::move(other.hasher_)),
      digest_(std::move(other.digest_)),
      written_(other.written_),
      synced_(other.synced_),
      published_(other.published_) {}

BlobWriter& BlobWriter::operator=(BlobWriter&& other) noexcept {
  if (this != &other) {
    abort();
    fd_ = std::move(other.fd_);
    temp_path_ = std::exchange(other.temp_path_, {});
    blobs_root_ = std::move(other.blobs_root_);
    hasher_ = std::move(other.hasher_);
    digest_ = std::move(other.digest_);
    written_ = other.written_;
    synced_ = other.synced_;
    published_ = other.published_;
  }
  return *this;
}

BlobWriter::~BlobWriter() { abort(); }

std::error_code BlobWriter::write(std::span<const char> bytes) {
  if (!fd_ || digest_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (auto error = write_all(fd_.get(), bytes)) return error;
  hasher_->update(bytes);
  written_ += bytes.size();
  return {};
}

const Digest& BlobWriter::finish() {
  if (!digest_) {
    digest_ = hasher_->finish();
    hasher_.reset();
  }
  return *digest_;
}

std::error_code BlobWriter::sync() {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (synced_) return {};
  if (auto error = sync_file(fd_.get())) return error;
  synced_ = true;
  return {};
}

std::error_code BlobWriter::publish(const Digest& expected) {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (finish() != expected) {
    abort();
    return make_error_code(CacheErrc::digest_mismatch);
  }
  if (auto error = sync()) return error;

  const auto shard = blobs_root_ / std::string(expected.hex().substr(0, 2));
  std::error_code ec;
  const bool created_shard = std::filesystem::create_directory(shard, ec);
  if (ec) return ec;
  const auto final_path = shard / std::string(expected.hex());
  if (std::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    return {errno, std::system_category()};
  }
  published_ = true;
  fd_.reset();
  if (created_shard) {
    if (auto error = sync_directory(blobs_root_)) return error;
  }
  return sync_directory(shard);
}

void BlobWriter::abort() noexcept {
  if (published_ || temp_path_.empty()) return;
  fd_.reset();
  std::error_code ignored;  // already gone is fine; anything left is wiped at the next start
  std::filesystem::remove(temp_path_, ignored);
  temp_path_.clear();
}

}  // namespace pt::cache
