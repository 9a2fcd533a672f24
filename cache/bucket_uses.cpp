#include "cache/bucket_uses.hpp"

#include <algorithm>

namespace pt::cache {

bool BucketUses::note(std::string_view object_key, Timestamp now) {
  std::lock_guard lock(mutex_);
  auto found = memo_.find(std::string(object_key));
  if (found == memo_.end()) {
    // Full: start over. What is lost is at most write_interval of recency of the keys dropped,
    // whose durable records stay.
    if (memo_.size() >= memo_capacity_) memo_.clear();
    memo_.emplace(std::string(object_key), Noted{.used = now, .written = now});
    return true;
  }
  found->second.used = std::max(found->second.used, now);
  if (now - found->second.written < write_interval_) return false;
  found->second.written = now;
  return true;
}

std::unordered_map<std::string, Timestamp> BucketUses::snapshot() const {
  std::unordered_map<std::string, Timestamp> out;
  index_.for_each_bucket_last_used([&out](std::string_view key, Timestamp when) {
    out.emplace(std::string(key), when);
    return true;
  });
  std::lock_guard lock(mutex_);
  for (const auto& [key, noted] : memo_) {
    auto [it, inserted] = out.emplace(key, noted.used);
    if (!inserted) it->second = std::max(it->second, noted.used);
  }
  return out;
}

void BucketUses::forget(const std::vector<std::string>& object_keys) {
  for (const auto& key : object_keys) {
    {
      std::lock_guard lock(mutex_);
      memo_.erase(key);
    }
    index_.forget_bucket_last_used(key);
  }
}

}  // namespace pt::cache
