#include "cache/eviction.hpp"

namespace pt::cache {
namespace {

constexpr std::size_t kBatch = 256;

// Walks the LRU order in batches, asking `wants` whether to evict each file, until it says stop
// or a whole batch yields nothing (every candidate was read meanwhile, or could not be removed).
EvictionStats evict_oldest_while(const Index& index, const RemoveFile& remove,
                                 const std::function<bool(const FileRecord&)>& wants) {
  EvictionStats stats;
  for (;;) {
    const auto batch = index.oldest_files(kBatch);
    bool progressed = false;
    for (const auto& victim : batch) {
      if (!wants(victim)) return stats;
      const auto removal = remove(victim);
      stats += removal;
      progressed = progressed || removal.removed;
    }
    if (batch.size() < kBatch || !progressed) return stats;
  }
}

}  // namespace

EvictionStats& EvictionStats::operator+=(const FileRemoval& removal) {
  if (removal.removed) {
    ++files;
    entries += removal.entries;
    bytes += removal.bytes;
  }
  return *this;
}

EvictionStats& EvictionStats::operator+=(const EvictionStats& other) {
  files += other.files;
  entries += other.entries;
  bytes += other.bytes;
  return *this;
}

EvictionStats evict_registry_to_size(const Index& index, std::string_view registry, std::uint64_t max_bytes,
                                     const RemoveFile& remove) {
  EvictionStats stats;
  // One walk of the LRU order: the registry's files may be anywhere in it. A file read meanwhile
  // is spared (remove is conditional), so this may end above the cap; the next eviction goes on.
  index.for_each_file_by_age([&](const FileRecord& file) {
    if (index.registry_bytes(registry) <= max_bytes) return false;
    if (index.file_registries(file.digest).contains(std::string(registry))) stats += remove(file);
    return true;
  });
  return stats;
}

EvictionStats evict_to_size(const Index& index, std::uint64_t max_bytes, const RemoveFile& remove) {
  return evict_oldest_while(index, remove,
                            [&](const FileRecord&) { return index.total_bytes() > max_bytes; });
}

EvictionStats evict_inactive(const Index& index, Timestamp now, std::chrono::seconds max_idle,
                             const RemoveFile& remove) {
  return evict_oldest_while(index, remove, [&](const FileRecord& file) {
    return now - file.last_access > max_idle;
  });
}

}  // namespace pt::cache
