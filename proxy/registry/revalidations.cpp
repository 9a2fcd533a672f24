#include "proxy/registry/revalidations.hpp"

#include <utility>

namespace pt::registry {

Revalidations::Turn::Turn(Turn&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), key_(std::move(other.key_)), pending_(std::move(other.pending_)) {}

Revalidations::Turn::~Turn() {
  // A leader that never answered (its session ended: the client left, a deadline passed) must not
  // leave the others waiting: they treat the tag's upstream as unreachable, and serve it stale.
  if (owner_) finish(cache::UpstreamAnswer{.reachable = false});
}

void Revalidations::Turn::finish(const cache::UpstreamAnswer& answer) {
  if (!owner_) return;
  std::exchange(owner_, nullptr)->finish(key_, pending_, answer);
}

Revalidations::Turn Revalidations::join(const std::string& tag_key) {
  std::lock_guard lock(mutex_);
  auto [slot, created] = in_flight_.try_emplace(tag_key);
  if (created) {
    slot->second = std::make_shared<Pending>();
    return Turn(this, tag_key, slot->second);
  }
  return Turn(nullptr, tag_key, slot->second);
}

void Revalidations::finish(const std::string& key, const std::shared_ptr<Pending>& pending,
                           const cache::UpstreamAnswer& answer) {
  {
    // Gone from the map first: a request arriving from now on asks again rather than take an
    // answer that is already on its way out.
    std::lock_guard lock(mutex_);
    if (auto found = in_flight_.find(key); found != in_flight_.end() && found->second == pending) {
      in_flight_.erase(found);
    }
  }
  pending->set_value(answer);
}

std::size_t Revalidations::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size();
}

}  // namespace pt::registry
