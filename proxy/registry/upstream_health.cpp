#include "proxy/registry/upstream_health.hpp"

#include <algorithm>

namespace pt::registry {

UpstreamHealth::UpstreamHealth(clock::duration cooldown, clock::duration bad_copy_memory)
    : cooldown_(cooldown), bad_copy_memory_(bad_copy_memory) {}

void UpstreamHealth::failed(const Upstream& upstream, clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune(now);
  down_until_[upstream.name()] = now + cooldown_;
}

void UpstreamHealth::answered(const Upstream& upstream) {
  std::lock_guard lock(mutex_);
  down_until_.erase(upstream.name());
}

void UpstreamHealth::served_corrupt(const Upstream& upstream, std::string_view digest, clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune(now);
  corrupt_until_[{upstream.name(), std::string(digest)}] = now + bad_copy_memory_;
}

UpstreamChain UpstreamHealth::order(const UpstreamChain& chain, std::string_view digest, clock::time_point now) const {
  // 0: healthy, 1: failing lately, 2: served this digest corrupt. A stable sort keeps the
  // configured order within each.
  std::vector<std::pair<int, const Upstream*>> ranked;
  {
    std::lock_guard lock(mutex_);
    for (const auto& upstream : chain) {
      const std::string name = upstream.name();
      int rank = 0;
      if (auto down = down_until_.find(name); down != down_until_.end() && down->second > now) rank = 1;
      if (!digest.empty()) {
        if (auto bad = corrupt_until_.find({name, std::string(digest)}); bad != corrupt_until_.end() && bad->second > now) {
          rank = 2;
        }
      }
      ranked.emplace_back(rank, &upstream);
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  UpstreamChain ordered;
  ordered.reserve(ranked.size());
  for (const auto& [rank, upstream] : ranked) ordered.push_back(*upstream);
  return ordered;
}

void UpstreamHealth::prune(clock::time_point now) {
  std::erase_if(down_until_, [now](const auto& entry) { return entry.second <= now; });
  if (corrupt_until_.size() < max_entries) return;
  std::erase_if(corrupt_until_, [now](const auto& entry) { return entry.second <= now; });
  // Still full of live entries (a client asking for many digests a mirror corrupts): forget the
  // oldest half rather than grow; the cost is one more cut transfer for those.
  if (corrupt_until_.size() >= max_entries) {
    std::vector<clock::time_point> times;
    for (const auto& [key, until] : corrupt_until_) times.push_back(until);
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    const auto median = times[times.size() / 2];
    std::erase_if(corrupt_until_, [median](const auto& entry) { return entry.second <= median; });
  }
}

}  // namespace pt::registry
