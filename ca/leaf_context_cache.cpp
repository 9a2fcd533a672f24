#include "ca/leaf_context_cache.hpp"

#include "ca/leaf_minter.hpp"
#include "ca/server_tls_context.hpp"

#include "common/run_blocking.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace pt::ca {

LeafContextCache::LeafContextCache(const RootCa& root, asio::thread_pool& blocking_pool,
                                   std::size_t capacity, unsigned mints_per_minute)
    : root_(root), blocking_pool_(blocking_pool), capacity_(capacity), mint_rate_(mints_per_minute) {
  if (capacity_ == 0) throw std::invalid_argument("LeafContextCache capacity must be at least 1");
}

asio::awaitable<std::shared_ptr<asio::ssl::context>> LeafContextCache::context_for(std::string host_text) {
  CertHost host = CertHost::parse_or_throw(host_text);
  Lookup lookup = find_or_insert(host.name);
  if (!lookup.context) co_return nullptr;
  if (lookup.caller_must_mint) {
    // A named lambda, not a temporary inside the co_await expression: GCC 12 can destroy the
    // captures of such a temporary twice (seen here as a double free of a const CertHost).
    auto mint = [this, host, context = lookup.context] { mint_and_publish(host, context); };
    co_await run_blocking(blocking_pool_, std::move(mint));
  }
  co_return co_await lookup.context->get();
}

void LeafContextCache::mint_and_publish(const CertHost& host,
                                        const std::shared_ptr<PendingContext>& context) {
  try {
    auto minted = make_server_context(mint_leaf(root_, host));
    ++mint_count_;
    spdlog::debug("minted a leaf certificate for {}", host.name);
    context->set_value(std::move(minted));
  } catch (...) {
    // Forget first, so that a caller arriving after the waiters are woken starts a fresh mint.
    forget(host.name, context);
    context->set_exception(std::current_exception());
  }
}

LeafContextCache::Lookup LeafContextCache::find_or_insert(const std::string& host) {
  std::lock_guard lock(mutex_);
  if (const auto found = slots_.find(host); found != slots_.end()) {
    recency_.splice(recency_.begin(), recency_, found->second);
    return {found->second->context, false};
  }
  if (!mint_rate_.try_acquire()) return {nullptr, false};
  recency_.push_front(Slot{host, std::make_shared<PendingContext>()});
  slots_.emplace(host, recency_.begin());
  if (recency_.size() > capacity_) {
    // Anyone still awaiting the evicted entry holds its own reference, so eviction is safe even
    // mid-mint.
    slots_.erase(recency_.back().host);
    recency_.pop_back();
  }
  return {recency_.front().context, true};
}

void LeafContextCache::forget(const std::string& host, const std::shared_ptr<PendingContext>& context) {
  std::lock_guard lock(mutex_);
  const auto found = slots_.find(host);
  if (found == slots_.end() || found->second->context != context) return;
  recency_.erase(found->second);
  slots_.erase(found);
}

std::size_t LeafContextCache::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

}  // namespace pt::ca
