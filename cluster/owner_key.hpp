#pragma once
// What the owner of a request is chosen by. Content by its digest, so each blob and manifest has
// one owner wherever it is referenced from (a base layer shared by a thousand images is fetched
// once). Tags by registry and repository: a repository's tags, their records and revalidations stay
// on one replica, so one HEAD per stale tag holds for the whole cluster.
#include "cache/registry_request.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pt::cluster {

// `registry`: the cache's name for the request's registry (cache::registry_authority, Docker Hub's
// names as one). nullopt: not an owned request (it is served where it arrives).
std::optional<std::string> owner_key(const cache::RegistryRequest& request, std::string_view registry);

}  // namespace pt::cluster
