#pragma once
// Random-access reads of a published blob file. The descriptor stays valid even if the file is
// evicted (unlinked) meanwhile, so a response in flight always completes.
#include "cache/digest.hpp"
#include "cache/unique_fd.hpp"

#include <cstdint>
#include <span>
#include <system_error>

namespace pt::cache {

class BlobReader {
public:
  BlobReader(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}

  std::uint64_t size() const noexcept { return size_; }
  int native_handle() const noexcept { return fd_.get(); }

  // Reads up to out.size() bytes at `offset` (pread: safe from several threads at once). Returns
  // fewer only at the end of the file; 0 at or past it.
  std::size_t read_at(std::uint64_t offset, std::span<char> out, std::error_code& ec) const;

private:
  UniqueFd fd_;
  std::uint64_t size_;
};

// Re-hashes the whole file: corrupt_blob if it is not `expected` (or not size() bytes long).
std::error_code verify_content(const BlobReader& reader, const Digest& expected);

}  // namespace pt::cache
