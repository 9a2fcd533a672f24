#pragma once
// What the proxy learnt of REGISTRY_MIRRORS upstreams while pulling, so the next pull does not pay
// for the same failure again:
//   - an upstream that could not be reached, or answered 5xx or 429, is tried after the others for
//     a while (nginx's fail_timeout): a mirror that is down would otherwise cost every request a
//     connect timeout before the fallback answers;
//   - one that served a blob or manifest whose bytes did not match its digest is not asked for
//     that digest again for a while. The client's transfer was cut; its retry gets the content
//     from the next upstream instead of the same bad copy.
// Pure apart from a mutex (the sessions of every I/O thread share it); bounded, as the digests
// come from clients.
#include "proxy/registry/upstream_fallbacks.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace pt::registry {

class UpstreamHealth {
public:
  using clock = std::chrono::steady_clock;

  explicit UpstreamHealth(clock::duration cooldown = std::chrono::seconds(30),
                          clock::duration bad_copy_memory = std::chrono::hours(1));

  void failed(const Upstream& upstream, clock::time_point now);
  void answered(const Upstream& upstream);
  void served_corrupt(const Upstream& upstream, std::string_view digest, clock::time_point now);

  // `chain` in the order to try now for `digest` (empty: not digest-addressed): the configured
  // order, except that upstreams failing lately come after the others, and upstreams that served
  // this digest corrupt after those. Nobody is left out: when all are failing, all are tried.
  UpstreamChain order(const UpstreamChain& chain, std::string_view digest, clock::time_point now) const;

private:
  static constexpr std::size_t max_entries = 4096;
  void prune(clock::time_point now);  // under mutex_

  const clock::duration cooldown_;
  const clock::duration bad_copy_memory_;
  mutable std::mutex mutex_;
  std::map<std::string, clock::time_point> down_until_;                     // by Upstream::name()
  std::map<std::pair<std::string, std::string>, clock::time_point> corrupt_until_;  // (name, digest)
};

}  // namespace pt::registry
