#pragma once
// Decoded index entries kept in memory, so that a hot key (the tag manifest every node HEADs on
// every pod start) costs neither a RocksDB read nor a JSON parse. Profiled: decoding entries was
// over a third of the proxy's CPU in a HEAD storm (bench/results).
//
// Bounded, least recently used first out, thread-safe. The memo never holds an entry older than
// the index: writers forget a key after changing it, and an entry read from the index is only
// remembered if nothing was forgotten while it was being read (the generation check), so a
// reader racing with a writer cannot put back what the writer just replaced.
//
// The file's last access travels with the entry but may lag behind the index (another key of the
// same file may have been read since): it is only ever older than the truth, never newer, which
// makes "no access to record yet" a safe conclusion.
#include "cache/index_entry.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pt::cache {

class EntryMemo {
public:
  explicit EntryMemo(std::size_t capacity) : capacity_(capacity) {}

  std::optional<IndexEntry> find(std::string_view key);

  // Read before reading the index; pass it to remember().
  std::uint64_t generation() const;
  void remember(const IndexEntry& entry, std::uint64_t generation_before_read);

  // The file of `key` was accessed at `last_access` (later times only).
  void note_access(std::string_view key, Timestamp last_access);

  void forget(std::string_view key);
  void forget_all();

  std::size_t size() const;

private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Order = std::list<IndexEntry>;  // most recently used first

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;
  Order order_;
  std::unordered_map<std::string, Order::iterator, StringHash, std::equal_to<>> by_key_;
};

}  // namespace pt::cache
