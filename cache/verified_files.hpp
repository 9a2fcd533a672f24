#pragma once
// Which blob files have been hashed and found to match their digest, by file identity (device,
// inode, size, modification time). Hashing every cached blob on every hit would cost a third of
// the CPU of a warm pull (measured: bench/results); hashing each file once per process still
// catches a file replaced or rewritten behind our back, which changes its identity. Bit rot inside
// an unchanged file goes unnoticed until the next start. Thread-safe and bounded.
#include "cache/blob_reader.hpp"
#include "cache/digest.hpp"

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_set>

namespace pt::cache {

class VerifiedFiles {
public:
  explicit VerifiedFiles(std::size_t capacity = 100000) : capacity_(capacity) {}

  bool contains(const BlobReader& reader, const Digest& digest) const;
  void insert(const BlobReader& reader, const Digest& digest);

private:
  // Empty when the file cannot be examined: then it is never taken as verified.
  static std::string identity(const BlobReader& reader, const Digest& digest);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_set<std::string> verified_;
};

}  // namespace pt::cache
