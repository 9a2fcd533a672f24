#include "cache/cache_key.hpp"

#include "common/image_reference.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace pt::cache {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string registry_authority(std::string_view host, std::uint16_t port) {
  if (port == 443) return registry_host(lower(host));
  return fmt::format("{}:{}", lower(host), port);
}

std::string key_registry(std::string_view registry) {
  if (registry.ends_with(":443")) registry.remove_suffix(4);
  return registry_host(registry);
}

std::string accept_variant(std::string_view accept_header) {
  std::vector<std::string> types;
  std::size_t start = 0;
  while (start <= accept_header.size()) {
    auto comma = accept_header.find(',', start);
    if (comma == std::string_view::npos) comma = accept_header.size();
    auto item = accept_header.substr(start, comma - start);
    item = trim(item.substr(0, item.find(';')));
    if (!item.empty()) types.push_back(lower(item));
    start = comma + 1;
  }
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  return fmt::format("{}", fmt::join(types, ","));
}

std::optional<std::string> cache_key(const RegistryRequest& request, std::string_view registry) {
  // The key layout relies on the registry holding none of the separators.
  const bool plain_registry =
      !registry.empty() && std::all_of(registry.begin(), registry.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != '/' && c != '@' && c != '#';
      });
  if (!plain_registry) return std::nullopt;
  switch (request.kind) {
    case RequestKind::blob:
      return fmt::format("blob/{}/{}", registry, request.digest->str());
    case RequestKind::manifest_by_digest:
      return manifest_key(registry, request.repository, *request.digest);
    case RequestKind::manifest_by_tag:
      return fmt::format("tag/{}/{}:{}", registry, request.repository, request.reference);
    case RequestKind::referrers:
      return fmt::format("referrers/{}/{}@{}{}{}", registry, request.repository, request.digest->str(),
                         request.artifact_type.empty() ? "" : "?artifactType=", request.artifact_type);
    default:
      return std::nullopt;
  }
}

std::string manifest_key(std::string_view registry, std::string_view repository, const Digest& digest) {
  return fmt::format("manifest/{}/{}@{}", registry, repository, digest.str());
}

std::string tag_fill_key(std::string_view tag_key, std::string_view accept_header) {
  return fmt::format("{}#{}", tag_key, accept_variant(accept_header));
}

bool is_legacy_tag_key(std::string_view key) {
  return key.starts_with("tag/") && key.find('#') != std::string_view::npos;
}

}  // namespace pt::cache
