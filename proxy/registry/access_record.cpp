#include "proxy/registry/access_record.hpp"

namespace pt::registry {

std::string_view to_string(CacheStatus status) noexcept {
  switch (status) {
    case CacheStatus::none: return "";
    case CacheStatus::hit: return "HIT";
    case CacheStatus::miss: return "MISS";
    case CacheStatus::revalidated: return "REVALIDATED";
    case CacheStatus::stale: return "STALE";
    case CacheStatus::bypass: return "BYPASS";
    case CacheStatus::tunnel: return "TUNNEL";
    case CacheStatus::local: return "LOCAL";
  }
  return "";
}

CacheStatus from_cache(cache::CacheStatus status) noexcept {
  switch (status) {
    case cache::CacheStatus::hit: return CacheStatus::hit;
    case cache::CacheStatus::miss: return CacheStatus::miss;
    case cache::CacheStatus::revalidated: return CacheStatus::revalidated;
    case cache::CacheStatus::stale: return CacheStatus::stale;
    case cache::CacheStatus::bypass: return CacheStatus::bypass;
  }
  return CacheStatus::none;
}

}  // namespace pt::registry
