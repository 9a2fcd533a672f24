#pragma once
// Ready-made TLS server contexts, one per host the proxy intercepts, minted on first use.
//
// A `docker pull` opens many connections to the same registry at once, from coroutines on
// different I/O threads. The first caller for a host starts the mint on the blocking pool; every
// other caller for that host awaits the same result (single flight), so a host costs one key
// generation however many connections race for it. The contexts live in an LRU of bounded size,
// because every CONNECT target, hostile ones included, would otherwise grow it forever.
#include "ca/cert_host.hpp"
#include "ca/root_ca.hpp"

#include "common/async_once.hpp"
#include "common/rate_limiter.hpp"

#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pt::ca {

class LeafContextCache {
public:
  // `root` and `blocking_pool` must outlive the cache and any context_for() in progress.
  // `capacity` (at least 1, else std::invalid_argument) is the number of hosts kept.
  // `mints_per_minute` (0: unlimited) caps new certificates (MAX_CERTS_PER_MINUTE): each costs a
  // key generation, and a client can name any number of hosts.
  LeafContextCache(const RootCa& root, asio::thread_pool& blocking_pool, std::size_t capacity = 1000,
                   unsigned mints_per_minute = 0);

  LeafContextCache(const LeafContextCache&) = delete;
  LeafContextCache& operator=(const LeafContextCache&) = delete;

  // The server context for `host` (case-insensitive; "[::1]" and "::1" are the same host). Safe to
  // call from any thread. Throws std::invalid_argument at once for an invalid host name (see
  // CertHost::parse). If minting fails, every caller waiting for that host gets the exception and
  // nothing is cached, so the next call tries again. Returns null, at once, when a new host would
  // exceed the mint rate; hosts already held are always served.
  asio::awaitable<std::shared_ptr<asio::ssl::context>> context_for(std::string host);

  // Hosts currently held, including mints in progress.
  std::size_t size() const;
  // Successful mints since construction; a re-mint after eviction counts again.
  std::uint64_t mint_count() const noexcept { return mint_count_.load(); }

private:
  using Context = std::shared_ptr<asio::ssl::context>;
  using PendingContext = AsyncOnce<Context>;
  struct Slot {
    std::string host;
    std::shared_ptr<PendingContext> context;
  };
  struct Lookup {
    std::shared_ptr<PendingContext> context;
    bool caller_must_mint;
  };

  // Finds the host's slot and marks it most recently used, or inserts a new one (evicting the
  // least recently used beyond capacity) and tells the caller to mint it; a null context when the
  // mint rate forbids a new one.
  Lookup find_or_insert(const std::string& host);
  // Runs on the blocking pool and publishes the outcome from there, so the waiters never depend on
  // the coroutine that started the mint living until it is done.
  void mint_and_publish(const CertHost& host, const std::shared_ptr<PendingContext>& context);
  // Drops the host's slot if it still holds `context`, so a failed mint is retried.
  void forget(const std::string& host, const std::shared_ptr<PendingContext>& context);

  const RootCa& root_;
  asio::thread_pool& blocking_pool_;
  const std::size_t capacity_;
  std::atomic<std::uint64_t> mint_count_{0};
  RateLimiter mint_rate_;

  mutable std::mutex mutex_;
  std::list<Slot> recency_;  // most recently used first
  std::unordered_map<std::string, std::list<Slot>::iterator> slots_;
};

}  // namespace pt::ca
