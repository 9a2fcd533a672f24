#include "cache/bucket_eviction_policy.hpp"

#include <algorithm>

namespace pt::cache {

std::vector<BucketObject> bucket_victims(std::vector<BucketObject> objects, const BucketLimits& limits, Timestamp now) {
  std::vector<BucketObject> victims;
  if (limits.max_bytes == 0 && limits.inactive.count() <= 0) return victims;
  std::uint64_t remaining = 0;
  for (const auto& object : objects) remaining += object.size;
  std::sort(objects.begin(), objects.end(), [](const BucketObject& a, const BucketObject& b) {
    const auto ta = a.last_touched();
    const auto tb = b.last_touched();
    return ta != tb ? ta < tb : a.key < b.key;
  });
  for (auto& object : objects) {
    const bool inactive = limits.inactive.count() > 0 && now - object.last_touched() > limits.inactive;
    const bool over = limits.max_bytes > 0 && remaining > limits.max_bytes;
    // Least recently used first: once an object is neither, nor is any after it.
    if (!inactive && !over) break;
    remaining -= object.size;  // a victim, whoever deletes it
    if (object.owned) victims.push_back(std::move(object));
  }
  return victims;
}

}  // namespace pt::cache
