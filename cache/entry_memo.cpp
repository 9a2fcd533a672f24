#include "cache/entry_memo.hpp"

#include <algorithm>

namespace pt::cache {

std::optional<IndexEntry> EntryMemo::find(std::string_view key) {
  std::lock_guard lock(mutex_);
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  order_.splice(order_.begin(), order_, it->second);
  return *it->second;
}

std::uint64_t EntryMemo::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void EntryMemo::remember(const IndexEntry& entry, std::uint64_t generation_before_read) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  if (generation_ != generation_before_read) return;  // a writer changed something meanwhile
  if (const auto it = by_key_.find(entry.key); it != by_key_.end()) {
    *it->second = entry;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  if (by_key_.size() >= capacity_) {
    by_key_.erase(order_.back().key);
    order_.pop_back();
  }
  order_.push_front(entry);
  by_key_.emplace(entry.key, order_.begin());
}

void EntryMemo::note_access(std::string_view key, Timestamp last_access) {
  std::lock_guard lock(mutex_);
  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    it->second->last_access = std::max(it->second->last_access, last_access);
  }
}

void EntryMemo::forget(std::string_view key) {
  std::lock_guard lock(mutex_);
  ++generation_;
  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    order_.erase(it->second);
    by_key_.erase(it);
  }
}

void EntryMemo::forget_all() {
  std::lock_guard lock(mutex_);
  ++generation_;
  by_key_.clear();
  order_.clear();
}

std::size_t EntryMemo::size() const {
  std::lock_guard lock(mutex_);
  return by_key_.size();
}

}  // namespace pt::cache
