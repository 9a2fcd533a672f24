#include "cache/verified_files.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

namespace pt::cache {

std::string VerifiedFiles::identity(const BlobReader& reader, const Digest& digest) {
  struct stat st {};
  if (::fstat(reader.native_handle(), &st) != 0) return {};
  return fmt::format("{} {}:{} {} {}.{}", digest.str(), st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec);
}

bool VerifiedFiles::contains(const BlobReader& reader, const Digest& digest) const {
  const auto key = identity(reader, digest);
  if (key.empty()) return false;
  std::lock_guard lock(mutex_);
  return verified_.contains(key);
}

void VerifiedFiles::insert(const BlobReader& reader, const Digest& digest) {
  auto key = identity(reader, digest);
  if (key.empty()) return;
  std::lock_guard lock(mutex_);
  if (verified_.size() >= capacity_) verified_.clear();  // a rare full re-verification, not unbounded memory
  verified_.insert(std::move(key));
}

}  // namespace pt::cache
