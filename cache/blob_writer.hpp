#pragma once
// Writes one blob into a temporary file, hashing as it goes, and publishes it under its digest
// only once the bytes are verified and durable:
//   write ... write -> finish (digest) -> sync (fsync file) -> publish (rename + fsync directory)
// A crash at any point leaves at most a temporary file (wiped at start) or a complete, durable blob
// file; never a partial file under a blob name. Dropping an unpublished writer deletes its file.
#include "cache/digest.hpp"
#include "cache/unique_fd.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <system_error>

namespace pt::cache {

class BlobWriter {
public:
  // Takes over an open temporary file; `blobs_root` is where published blobs go (see BlobStore).
  BlobWriter(UniqueFd fd, std::filesystem::path temp_path, std::filesystem::path blobs_root);
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&& other) noexcept;
  ~BlobWriter();

  // Appends all of `bytes` (partial writes and EINTR retried). ENOSPC and EIO come back as errors.
  std::error_code write(std::span<const char> bytes);

  std::uint64_t bytes_written() const noexcept { return written_; }
  const std::filesystem::path& temp_path() const noexcept { return temp_path_; }

  // Ends hashing and returns the digest of what was written; later calls return the same digest.
  // No write() may follow.
  const Digest& finish();

  // fsync of the file: the slow part of committing, split out so callers can do it without holding
  // their own locks. Idempotent.
  std::error_code sync();

  // Verifies the content is `expected`, syncs if not done, renames it into place and makes the
  // rename durable. On digest mismatch the temporary file is deleted and digest_mismatch returned.
  std::error_code publish(const Digest& expected);

  // Deletes the temporary file. Idempotent; a no-op after a successful publish().
  void abort() noexcept;

  bool published() const noexcept { return published_; }

private:
  UniqueFd fd_;
  std::filesystem::path temp_path_;
  std::filesystem::path blobs_root_;
  std::optional<Sha256> hasher_{std::in_place};
  std::optional<Digest> digest_;
  std::uint64_t written_ = 0;
  bool synced_ = false;
  bool published_ = false;
};

}  // namespace pt::cache
