#include "cluster/owner_key.hpp"

#include <fmt/format.h>

namespace pt::cluster {

std::optional<std::string> owner_key(const cache::RegistryRequest& request, std::string_view registry) {
  using cache::RequestKind;
  switch (request.kind) {
    case RequestKind::blob:
    case RequestKind::manifest_by_digest:
      if (request.digest) return request.digest->str();
      return std::nullopt;
    case RequestKind::manifest_by_tag:
    case RequestKind::referrers:
      return fmt::format("{}/{}", registry, request.repository);
    default:
      return std::nullopt;
  }
}

}  // namespace pt::cluster
