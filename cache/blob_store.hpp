#pragma once
// Blob files on disk, content-addressed:
//   <root>/blobs/sha256/<first 2 hex>/<64 hex>   published blobs (sharded: no huge directories)
//   <root>/tmp/fill-XXXXXX                        downloads in progress
// File names come only from validated Digests (64 lower-case hex), so nothing a client sends can
// name a path outside these directories. Knows nothing of the index: which files are wanted is
// the caller's business (see CacheStore). All methods are blocking and thread-safe.
#include "cache/blob_reader.hpp"
#include "cache/blob_writer.hpp"
#include "cache/digest.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <system_error>

namespace pt::cache {

class BlobStore {
public:
  // Creates the directories if missing; throws std::runtime_error naming the path if it cannot.
  explicit BlobStore(std::filesystem::path root);

  const std::filesystem::path& root() const noexcept { return root_; }
  std::filesystem::path blob_path(const Digest& digest) const;

  // A new temporary file to download into (O_CLOEXEC, private to this process).
  std::optional<BlobWriter> begin_write(std::error_code& ec) const;

  // ENOENT when the blob is not on disk.
  std::optional<BlobReader> open(const Digest& digest, std::error_code& ec) const;

  bool contains(const Digest& digest) const;

  // Unlinks a published blob; readers holding it open keep reading (POSIX). Absent is success.
  std::error_code remove(const Digest& digest) const;

  // Deletes every temporary file: at start, none of them can belong to a live download.
  std::size_t clear_temp() const;

  // Visits each published blob with its size. Files whose names are not blob names (never written
  // by us) are deleted on the way; returns how many.
  std::size_t for_each_blob(
      const std::function<void(const Digest& digest, std::uint64_t size)>& visit) const;

private:
  std::filesystem::path root_;
  std::filesystem::path blobs_dir_;
  std::filesystem::path temp_dir_;
};

}  // namespace pt::cache
