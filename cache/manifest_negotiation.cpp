#include "cache/manifest_negotiation.hpp"

#include "common/ascii.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace pt::cache {
namespace {

// True when a "q=0", "q=0.0", "q=0.000" parameter is among `parameters` (";"-separated).
bool has_zero_quality(std::string_view parameters) {
  while (!parameters.empty()) {
    auto semicolon = parameters.find(';');
    auto parameter = trim(parameters.substr(0, semicolon));
    parameters = semicolon == std::string_view::npos ? std::string_view{} : parameters.substr(semicolon + 1);
    if (parameter.size() < 2 || to_lower(parameter[0]) != 'q') continue;
    auto value = trim(parameter.substr(1));
    if (value.empty() || value.front() != '=') continue;
    value = trim(value.substr(1));
    if (value.empty() || value.front() != '0') return false;
    value.remove_prefix(1);
    if (value.empty()) return true;
    if (value.front() != '.') return false;
    value.remove_prefix(1);
    return std::all_of(value.begin(), value.end(), [](char c) { return c == '0'; });
  }
  return false;
}

bool matches(std::string_view pattern, std::string_view media_type) {
  if (pattern == "*/*") return true;
  if (pattern.ends_with("/*")) return media_type.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == media_type;
}

}  // namespace

bool is_index_media_type(std::string_view media_type) {
  const auto type = to_lower(media_type);
  return type == kOciIndex || type == kDockerManifestList;
}

AcceptedTypes AcceptedTypes::parse(std::string_view accept_header) {
  AcceptedTypes accepted;
  std::size_t start = 0;
  while (start <= accept_header.size()) {
    auto comma = accept_header.find(',', start);
    if (comma == std::string_view::npos) comma = accept_header.size();
    const auto item = accept_header.substr(start, comma - start);
    const auto semicolon = item.find(';');
    const auto type = to_lower(trim(item.substr(0, semicolon)));
    start = comma + 1;
    if (type.empty()) continue;
    if (semicolon != std::string_view::npos && has_zero_quality(item.substr(semicolon + 1))) {
      accepted.refused_.push_back(type);
    } else {
      accepted.types_.push_back(type);
    }
  }
  accepted.anything_ = accepted.types_.empty() && accepted.refused_.empty();
  return accepted;
}

bool AcceptedTypes::accepts(std::string_view media_type) const {
  const auto type = to_lower(trim(media_type.substr(0, media_type.find(';'))));
  if (std::find(refused_.begin(), refused_.end(), type) != refused_.end()) return false;
  if (anything_) return true;
  return std::any_of(types_.begin(), types_.end(), [&](const std::string& pattern) { return matches(pattern, type); });
}

std::optional<TagVariant> choose_variant(const TagRecord& record, const AcceptedTypes& accepted) {
  const TagVariant* best = nullptr;
  for (const auto& variant : record.variants) {
    if (!accepted.accepts(variant.media_type)) continue;
    if (!best) {
      best = &variant;
      continue;
    }
    const bool index = is_index_media_type(variant.media_type);
    const bool best_index = is_index_media_type(best->media_type);
    if ((index && !best_index) || (index == best_index && variant.fetched > best->fetched)) best = &variant;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::string revalidation_accept() {
  return fmt::format("{}, {}, {}, {}", kOciIndex, kDockerManifestList, kOciManifest, kDockerManifest);
}

std::optional<PlatformManifest> platform_manifest(std::string_view index_body, std::string_view os,
                                                  std::string_view architecture) {
  const auto json = nlohmann::json::parse(index_body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("manifests") || !json["manifests"].is_array()) return std::nullopt;
  // value() throws on a field of the wrong type: an odd index is "no such platform", never an error.
  try {
  for (const auto& child : json["manifests"]) {
    if (!child.is_object() || !child.contains("platform") || !child["platform"].is_object()) continue;
    const auto& platform = child["platform"];
    if (platform.value("os", "") != os || platform.value("architecture", "") != architecture) continue;
    auto digest = Digest::parse(child.value("digest", ""));
    if (!digest) continue;
    const auto size = child.value("size", std::int64_t{-1});
    if (size < 0) continue;  // a descriptor without a size is no manifest to serve
    return PlatformManifest{.digest = std::move(*digest),
                            .media_type = child.value("mediaType", std::string(kDockerManifest)),
                            .size = static_cast<std::uint64_t>(size)};
  }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return std::nullopt;
}

std::string registry_error_body(std::string_view code, std::string_view message) {
  const nlohmann::json json = {{"errors", nlohmann::json::array({{{"code", code}, {"message", message}}})}};
  // The message may quote upstream's bytes: invalid UTF-8 is replaced, never thrown.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pt::cache
