#include "proxy/registry/peer_pool.hpp"

namespace pt::registry {

std::unique_ptr<net::UpstreamConnection> PeerPool::take(const void* context, const std::string& member) {
  std::lock_guard lock(mutex_);
  auto found = idle_.find({context, member});
  if (found == idle_.end() || found->second.empty()) return nullptr;
  // The most recently used first: the least likely to have been closed by the peer meanwhile.
  auto connection = std::move(found->second.back());
  found->second.pop_back();
  return connection;
}

void PeerPool::put(const void* context, const std::string& member, std::unique_ptr<net::UpstreamConnection> connection) {
  if (!connection || !connection->is_open()) return;
  std::unique_ptr<net::UpstreamConnection> surplus;  // closed outside the lock
  {
    std::lock_guard lock(mutex_);
    auto& idle = idle_[{context, member}];
    if (idle.size() < idle_per_member_) {
      idle.push_back(std::move(connection));
      return;
    }
    surplus = std::move(connection);
  }
  surplus->close();
}

void PeerPool::clear() {
  std::lock_guard lock(mutex_);
  for (auto& [key, idle] : idle_) {
    for (auto& connection : idle) connection->close();
  }
  idle_.clear();
}

}  // namespace pt::registry
