#pragma once
// What the registry-mirror listener's sessions share: the registry used when a request names
// none (MIRROR_UPSTREAM), and the Bearer tokens the proxy fetched for upstream registries.
#include "proxy/registry/mirror_route.hpp"
#include "proxy/registry/mirror_tokens.hpp"

namespace pt::registry {

struct MirrorContext {
  MirrorRegistry default_registry;
  TokenCache tokens;
};

}  // namespace pt::registry
