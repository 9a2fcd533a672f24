#include "cache/cache_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace pt::cache {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_immutable(RequestKind kind) {
  return kind == RequestKind::blob || kind == RequestKind::manifest_by_digest;
}

bool has_directive(std::string_view cache_control, std::string_view directive) {
  std::size_t start = 0;
  while (start <= cache_control.size()) {
    auto comma = cache_control.find(',', start);
    if (comma == std::string_view::npos) comma = cache_control.size();
    auto item = cache_control.substr(start, comma - start);
    item = item.substr(0, item.find('='));
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, directive)) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace

std::string_view to_string(CacheStatus status) noexcept {
  switch (status) {
    case CacheStatus::hit: return "HIT";
    case CacheStatus::miss: return "MISS";
    case CacheStatus::revalidated: return "REVALIDATED";
    case CacheStatus::stale: return "STALE";
    case CacheStatus::bypass: return "BYPASS";
  }
  return "BYPASS";
}

CacheAction decide(const RegistryRequest& request, std::optional<Timestamp> cached_fresh_until,
                   Timestamp now) {
  const bool cacheable = is_immutable(request.kind) || request.kind == RequestKind::manifest_by_tag ||
                         request.kind == RequestKind::referrers;
  if (!cacheable) return CacheAction::bypass;
  if (!cached_fresh_until) return request.is_head ? CacheAction::forward : CacheAction::fill;
  if (is_immutable(request.kind) || now < *cached_fresh_until) return CacheAction::serve_cached;
  return CacheAction::revalidate;
}

CacheStatus planned_status(CacheAction action) noexcept {
  switch (action) {
    case CacheAction::serve_cached: return CacheStatus::hit;
    case CacheAction::revalidate: return CacheStatus::revalidated;
    case CacheAction::fill:
    case CacheAction::forward: return CacheStatus::miss;
    case CacheAction::bypass: return CacheStatus::bypass;
  }
  return CacheStatus::bypass;
}

bool is_upstream_failure(const UpstreamAnswer& answer) noexcept {
  return !answer.reachable || answer.status == 429 || (answer.status >= 500 && answer.status < 600);
}

TagRevalidation on_tag_revalidation(const UpstreamAnswer& answer, const TagRecord& record) {
  if (is_upstream_failure(answer)) return TagRevalidation::failed;
  if (answer.status == 404) return TagRevalidation::deleted;
  if (answer.status != 200) return TagRevalidation::relay;
  const auto digest = answer.docker_content_digest ? Digest::parse(*answer.docker_content_digest) : std::nullopt;
  if (!digest) return TagRevalidation::moved;  // cannot tell: fetch again rather than serve a guess
  if (record.head_digest) return *record.head_digest == *digest ? TagRevalidation::confirmed : TagRevalidation::moved;
  const bool known = std::any_of(record.variants.begin(), record.variants.end(),
                                 [&](const TagVariant& variant) { return variant.digest == *digest; });
  return known ? TagRevalidation::confirmed : TagRevalidation::moved;
}

bool is_cacheable_response(RequestKind kind, int status, std::string_view cache_control) {
  if (status != 200) return false;
  if (is_immutable(kind)) return true;
  return (kind == RequestKind::manifest_by_tag || kind == RequestKind::referrers) &&
         !has_directive(cache_control, "no-store");
}

bool is_replayed_header(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 6> kReplayed = {
      "Content-Type",  "Docker-Content-Digest", "Docker-Distribution-Api-Version",
      "Etag",          "Last-Modified",         "Oci-Subject"};
  return std::any_of(kReplayed.begin(), kReplayed.end(),
                     [&](std::string_view replayed) { return iequals(name, replayed); });
}

}  // namespace pt::cache
