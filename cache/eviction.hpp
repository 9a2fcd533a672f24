#pragma once
// Which blob files to drop, and when. Eviction works on files, least recently used first (the
// index keeps them in that order, so no scan is needed); dropping a file drops every index entry
// that points at it.
//
// The removal itself is the caller's (CacheStore), because it must be serialised with commits of
// the same digest. A file being served while it is evicted is safe: its reader holds an open
// descriptor and keeps reading the unlinked file (POSIX); the space is freed when it closes.
// A file read after eviction chose it is spared (the removal is conditional on its access time).
#include "cache/index.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace pt::cache {

struct EvictionStats {
  std::size_t files = 0;
  std::size_t entries = 0;
  std::uint64_t bytes = 0;

  EvictionStats& operator+=(const FileRemoval& removal);
  EvictionStats& operator+=(const EvictionStats& other);
};

// Removes the index records of one file (conditionally on its last access) and its blob.
using RemoveFile = std::function<FileRemoval(const FileRecord& victim)>;

// Evicts until the index's total is at most `max_bytes`.
EvictionStats evict_to_size(const Index& index, std::uint64_t max_bytes, const RemoveFile& remove);

// REGISTRY_POLICY max_share: evicts the files `registry` uses (Index::registry_bytes counts them),
// least recently used first, until its bytes are at most `max_bytes`. Other registries' files
// are passed over; a file shared with another registry goes for both. The index must track
// registry bytes (Index::track_registry_bytes).
EvictionStats evict_registry_to_size(const Index& index, std::string_view registry, std::uint64_t max_bytes,
                                     const RemoveFile& remove);

// Evicts every file not read for longer than `max_idle` (CACHE_INACTIVE).
EvictionStats evict_inactive(const Index& index, Timestamp now, std::chrono::seconds max_idle,
                             const RemoveFile& remove);

}  // namespace pt::cache
