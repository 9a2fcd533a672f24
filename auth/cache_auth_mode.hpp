#pragma once
// CACHE_AUTH_MODE: who may be served what the cache holds for a registry.
//   shared  what the proxy fetched (with AUTH_REGISTRIES credentials) is served to every allowed
//           client: rpardini's behaviour, right for public images and trusted clients.
//   verify  the registry must accept the client's OWN credentials for the repository before a
//           cached manifest or blob is served (one HEAD upstream, remembered briefly per
//           credential and repository); credentials are never injected. The blob store stays
//           shared, so a layer common to two private repositories is still stored once.
// Written as a default and per-registry overrides: "shared ghcr.io=verify registry.corp:5000=verify".
#include "auth/host_pattern.hpp"
#include "common/parse_result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::auth {

enum class CacheAuthMode { shared, verify };

class CacheAuthModes {
public:
  static ParseResult<CacheAuthModes> parse(std::string_view text);

  CacheAuthMode mode_for(std::string_view host, std::uint16_t port) const;
  bool any_verify() const;
  std::string describe() const;

private:
  CacheAuthMode default_mode_ = CacheAuthMode::shared;
  std::vector<std::pair<HostPattern, CacheAuthMode>> overrides_;  // first match wins
};

}  // namespace pt::auth
