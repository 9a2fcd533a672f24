#pragma once
// REGISTRY_MIRRORS: for a registry, the upstreams its pulls are fetched from, in order. Users put a
// mirror first (mirror.gcr.io against Docker Hub's rate limits, a corporate Harbor or Nexus) and
// the registry itself after it as the fallback. Only the upstream changes: the client and the
// cache see the registry the client asked for (its cache keys, its tag records), and whatever
// upstream answered, a fill is verified against the digest the client asked for.
//
// Written "registry=upstream,upstream ...": entries separated by spaces or newlines, upstreams by
// commas. An upstream is "host", "host:port" or "[v6]:port", optionally followed by a repository
// prefix ("harbor.corp/dockerhub": a proxy-cache project, so /v2/library/nginx/... is fetched as
// /v2/dockerhub/library/nginx/...). "docker.io" names Docker Hub on either side. The list is what
// is tried, nothing more: leave the registry itself out and it is never asked for pulls.
//
// Pure: which upstreams and in what order. The table may change while the proxy runs (SIGHUP): it
// is an immutable snapshot swapped under a mutex, so a request keeps the chain it started with.
#include "common/parse_result.hpp"
#include "common/snapshot.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pt::registry {

struct Upstream {
  std::string host;  // normalised (lower case, no brackets); Docker Hub as registry-1.docker.io
  std::uint16_t port = 443;
  std::string prefix;  // repository prefix, no '/' at either end; empty: none

  // "host", "host:port", "[v6]:port": the Host header and the connection's name.
  std::string authority() const;
  // authority() plus "/prefix": how logs and the start-up line name it.
  std::string name() const;
  // The registry's own request target ("/v2/<repository>/...") as this upstream names it.
  std::string target_for(std::string_view target) const;
  // The repository as this upstream names it (its token scopes name that one).
  std::string repository_for(std::string_view repository) const;

  bool operator==(const Upstream&) const = default;
};

using UpstreamChain = std::vector<Upstream>;

class UpstreamFallbacks {
public:
  // None configured: every registry is its own only upstream.
  UpstreamFallbacks();

  // REGISTRY_MIRRORS as above. The error names the entry.
  static ParseResult<UpstreamFallbacks> parse(std::string_view text);

  // A copy holds the same snapshot; assignment is replace().
  UpstreamFallbacks(const UpstreamFallbacks&) = default;
  UpstreamFallbacks& operator=(const UpstreamFallbacks&) = default;
  // Every later lookup uses `other`'s chains.
  void replace(const UpstreamFallbacks& other);

  // The upstreams for pulls of the registry the client named (host and port as it connected),
  // in order; null when none are configured for it (the registry alone).
  std::shared_ptr<const UpstreamChain> chain_for(std::string_view host, std::uint16_t port) const;

  // "docker.io: mirror.gcr.io, then registry-1.docker.io", one line per registry, for the logs.
  std::vector<std::string> describe() const;
  bool empty() const;

private:
  // By cache::registry_authority(): the name the cache keys use, so Docker Hub's names are one.
  using Table = std::unordered_map<std::string, std::shared_ptr<const UpstreamChain>>;
  Snapshot<Table> table_;
};

// What to do with an upstream's answer to a pull while others remain to be tried.
enum class FallbackVerdict {
  answer,     // it goes to the client (and the cache)
  next,       // try the next upstream: this one lacks the content (404)
  next_down,  // try the next, and try this one last for a while: it is failing (5xx, 429)
};
// `is_registry`: the upstream is the registry the client asked for, whose 401 and 403 are the
// client's to answer (with its own credentials); a mirror's are the proxy's failure to use it.
FallbackVerdict judge_answer(int status, bool is_registry);

}  // namespace pt::registry
