#include "cluster/members.hpp"

#include "cluster/rendezvous.hpp"

#include <algorithm>

namespace pt::cluster {

Members::Members(std::string self, std::vector<std::string> members, clock::duration down_for)
    : self_(std::move(self)), down_for_(down_for) {
  set(std::move(members));
}

bool Members::set(std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  std::lock_guard lock(mutex_);
  const bool same = std::equal(members.begin(), members.end(), entries_.begin(), entries_.end(),
                               [](const std::string& m, const Entry& e) { return m == e.member; });
  if (same) return false;
  std::vector<Entry> next;
  next.reserve(members.size());
  for (auto& member : members) {
    auto old = std::lower_bound(entries_.begin(), entries_.end(), member,
                                [](const Entry& e, const std::string& m) { return e.member < m; });
    const auto down_until = old != entries_.end() && old->member == member ? old->down_until : clock::time_point{};
    next.push_back({std::move(member), down_until});
  }
  entries_ = std::move(next);
  return true;
}

std::vector<Members::Candidate> Members::candidates(std::string_view key, clock::time_point now) const {
  std::vector<std::string> up;
  {
    std::lock_guard lock(mutex_);
    up.reserve(entries_.size());
    // This replica is never down to itself: it can always serve, from its disk or upstream.
    for (const auto& entry : entries_) {
      if (entry.member == self_ || entry.down_until <= now) up.push_back(entry.member);
    }
  }
  std::vector<Candidate> ranked;
  ranked.reserve(up.size());
  for (auto& member : rank_members(up, key)) {
    const bool self = member == self_;
    ranked.push_back({std::move(member), self});
  }
  return ranked;
}

bool Members::mark_down(const std::string& member, clock::time_point now) {
  if (member == self_) return false;
  std::lock_guard lock(mutex_);
  auto entry = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.member == member; });
  if (entry == entries_.end()) return false;
  const bool was_up = entry->down_until <= now;
  entry->down_until = now + down_for_;
  return was_up;
}

void Members::mark_up(const std::string& member) {
  std::lock_guard lock(mutex_);
  for (auto& entry : entries_) {
    if (entry.member == member) entry.down_until = clock::time_point{};
  }
}

std::vector<std::string> Members::down(clock::time_point now) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& entry : entries_) {
    if (entry.member != self_ && entry.down_until > now) out.push_back(entry.member);
  }
  return out;
}

std::vector<Members::State> Members::states(clock::time_point now) const {
  std::lock_guard lock(mutex_);
  std::vector<State> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) {
    const bool self = entry.member == self_;
    const bool up = self || entry.down_until <= now;
    out.push_back({entry.member, self, up, up ? std::nullopt : std::optional(entry.down_until)});
  }
  return out;
}

std::size_t Members::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t Members::up_count(clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.member == self_ || e.down_until <= now;
  }));
}

bool Members::self_is_member() const {
  std::lock_guard lock(mutex_);
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.member == self_; });
}

}  // namespace pt::cluster
