#pragma once
// REGISTRY_POLICY: rules per registry, or per repository pattern of a registry. Pure: parsed once
// at start-up, then asked by the sessions (which repositories may be pulled, how long a tag is
// fresh) and by eviction (how much of the cache a registry may hold).
//
// Written as entries separated by ';' or newlines, each a scope followed by fields:
//
//   docker.io tag_freshness=10m max_share=50% deny=library/evil*,library/bad ; ghcr.io allow=myorg/*
//
//   scope           registry[:port][/repository-pattern]: "docker.io", "registry.corp:5000",
//                   "docker.io/library/*". Docker Hub's names are one registry; ":443" is dropped.
//   tag_freshness   how long a tag of the scope is served without asking upstream: replaces the
//                   MANIFEST_CACHE_* windows (and the 60 s default) for those tags. First entry wins.
//   max_share       the part of CACHE_MAX_SIZE the registry's files may take, "1%".."100%";
//                   only for a whole registry (no repository pattern), at most once per registry.
//   allow, deny     repository patterns of the registry (comma separated, repeatable). A repository
//                   matching a deny pattern of any entry of its scope is refused; when entries of its
//                   scope have allow patterns, a repository matching none of them is refused.
//
// Patterns are repository names (relative to the registry) with '*' for any run of characters,
// '/' included: "library/*" matches "library/alpine" and "library/a/b", "myorg/*" every
// repository under myorg. Matching is on whole names.
#include "cache/registry_request.hpp"
#include "common/parse_result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cache {

// Why a pull is refused: the rule (as written, for the log and the client) and the message.
struct PolicyDenial {
  std::string rule;     // "docker.io deny=library/evil*", "ghcr.io allow=myorg/*"
  std::string message;  // for the client's DENIED error
};

class RegistryPolicy {
public:
  // Never throws: a bad entry yields an error naming it ("entry 2 (ghcr.io): ...").
  static ParseResult<RegistryPolicy> parse(std::string_view text);

  bool empty() const noexcept { return entries_.empty(); }

  // `registry` as cache keys spell it (cache_key.hpp's registry_authority / key_registry).
  std::optional<std::chrono::seconds> tag_freshness(std::string_view registry, std::string_view repository) const;

  // nullopt: the repository may be pulled.
  std::optional<PolicyDenial> check_access(std::string_view registry, std::string_view repository) const;

  // The same for a request: manifests, blobs and tag lists are checked; anything else (the /v2/
  // ping, tokens, pushes) is not a pull of a repository and passes.
  std::optional<PolicyDenial> check(std::string_view registry, const RegistryRequest& request) const;

  // max_share per registry (as cache keys spell it), as a fraction of the cache's size cap.
  std::map<std::string, double> shares() const;

  // One line per entry, normalised, for the start-up log.
  std::vector<std::string> describe() const;

private:
  struct Entry {
    std::string written;               // the scope as written, to name the entry
    std::string registry;              // as cache keys spell it
    std::string repository = "*";      // pattern
    std::optional<std::chrono::seconds> tag_freshness;
    std::optional<double> max_share;   // fraction, (0, 1]
    std::vector<std::string> allow;
    std::vector<std::string> deny;
  };
  std::vector<Entry> entries_;
};

// '*' matches any run of characters ('/' included); everything else matches itself.
bool matches_repository_pattern(std::string_view pattern, std::string_view name);

}  // namespace pt::cache
