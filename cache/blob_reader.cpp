#include "cache/blob_reader.hpp"

#include "cache/cache_error.hpp"
#include "cache/file_io.hpp"

#include <algorithm>
#include <vector>

namespace pt::cache {

std::size_t BlobReader::read_at(std::uint64_t offset, std::span<char> out,
                                std::error_code& ec) const {
  return pt::cache::read_at(fd_.get(), offset, out, ec);
}

std::error_code verify_content(const BlobReader& reader, const Digest& expected) {
  constexpr std::uint64_t kChunk = 1 << 20;
  // Most verified files are small manifests: no need for a megabyte to hash a few kilobytes.
  const auto buffer_size = std::clamp<std::uint64_t>(reader.size(), 1, kChunk);
  std::vector<char> buffer(static_cast<std::size_t>(buffer_size));
  Sha256 hasher;
  std::uint64_t offset = 0;
  for (;;) {
    std::error_code ec;
    const auto n = reader.read_at(offset, buffer, ec);
    if (ec) return ec;
    if (n == 0) break;
    hasher.update(std::span(buffer.data(), n));
    offset += n;
  }
  if (offset != reader.size() || hasher.finish() != expected) {
    return make_error_code(CacheErrc::corrupt_blob);
  }
  return {};
}

}  // namespace pt::cache
