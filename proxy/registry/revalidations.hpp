#pragma once
// One revalidation HEAD per tag at a time, whichever clients ask. When a tag's freshness window
// ends under a storm of pulls (every node of a cluster with imagePullPolicy: Always), the first
// request asks upstream and the others wait for its answer instead of sending the same HEAD. Each
// waiter still acts on the answer with its own request: a 401 or a 404 is relayed to it with its
// own credentials, and CACHE_AUTH_MODE=verify has checked its access before it got here.
#include "cache/cache_policy.hpp"
#include "common/async_once.hpp"

#include <asio/awaitable.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pt::registry {

class Revalidations {
  using Pending = AsyncOnce<cache::UpstreamAnswer>;

public:
  // A request's part in a tag's revalidation: the leader asks upstream and finishes; the others
  // await its answer. Move-only.
  class Turn {
  public:
    Turn(Turn&& other) noexcept;
    Turn& operator=(Turn&&) = delete;
    ~Turn();

    bool leads() const { return owner_ != nullptr; }
    // The leader's answer, for itself and every request waiting on it.
    void finish(const cache::UpstreamAnswer& answer);
    // A waiter's: the leader's answer.
    asio::awaitable<cache::UpstreamAnswer> answer() { co_return co_await pending_->get(); }

  private:
    friend class Revalidations;
    Turn(Revalidations* owner, std::string key, std::shared_ptr<Pending> pending)
        : owner_(owner), key_(std::move(key)), pending_(std::move(pending)) {}

    Revalidations* owner_;  // set for the leader until it finishes
    std::string key_;
    std::shared_ptr<Pending> pending_;
  };

  Turn join(const std::string& tag_key);

  std::size_t in_flight() const;

private:
  void finish(const std::string& key, const std::shared_ptr<Pending>& pending, const cache::UpstreamAnswer& answer);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Pending>> in_flight_;
};

}  // namespace pt::registry
