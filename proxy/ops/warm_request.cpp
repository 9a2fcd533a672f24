#include "proxy/ops/warm_request.hpp"

#include "cache/digest.hpp"
#include "cache/manifest_negotiation.hpp"
#include "common/ascii.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace pt::ops {
namespace {

using nlohmann::json;

// Client and upstream JSON is parsed without exceptions: bad input is an answer, not a bug.
std::optional<json> parse_json(std::string_view text) {
  auto parsed = json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

std::string string_field(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool plain_word(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<Descriptor> descriptor_of(const json& item) {
  if (!item.is_object()) return std::nullopt;
  Descriptor out;
  out.media_type = string_field(item, "mediaType");
  out.digest = string_field(item, "digest");
  if (!cache::looks_like_digest(out.digest)) return std::nullopt;
  const auto size = item.find("size");
  if (size != item.end() && size->is_number_unsigned()) out.size = size->get<std::uint64_t>();
  const auto platform = item.find("platform");
  if (platform != item.end() && platform->is_object()) {
    Platform p{.os = string_field(*platform, "os"), .architecture = string_field(*platform, "architecture"),
               .variant = string_field(*platform, "variant")};
    if (!p.os.empty() || !p.architecture.empty()) out.platform = std::move(p);
  }
  return out;
}

json base(const ImageProgress& progress, std::string_view event) {
  return json{{"image", progress.image}, {"event", event}};
}

void add_counts(json& line, const ImageProgress& progress) {
  line["manifests"] = progress.manifests;
  line["blobs_done"] = progress.blobs_done;
  line["blobs_total"] = progress.blobs_total;
  line["blobs_cached"] = progress.blobs_cached;
  line["bytes"] = progress.bytes;
  line["bytes_total"] = progress.bytes_total;
}

// Replaces invalid UTF-8 rather than throwing: reasons quote upstream text.
std::string line_of(const json& line) { return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

}  // namespace

std::string Platform::str() const {
  return variant.empty() ? fmt::format("{}/{}", os, architecture) : fmt::format("{}/{}/{}", os, architecture, variant);
}

std::optional<Platform> parse_platform(std::string_view text) {
  const auto parts = split_exact(text, "/");
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  for (auto part : parts) {
    if (!plain_word(part)) return std::nullopt;
  }
  return Platform{.os = std::string(parts[0]), .architecture = std::string(parts[1]),
                  .variant = parts.size() == 3 ? std::string(parts[2]) : std::string()};
}

ParsedWarmRequest parse_warm_request(std::string_view body, const WarmLimits& limits) {
  ParsedWarmRequest out;
  if (body.size() > limits.max_body) {
    out.error = fmt::format("the request body is larger than {} bytes", limits.max_body);
    return out;
  }
  const auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) {
    out.error = R"(the body must be a JSON object: {"images": ["registry/name:tag", ...], "platforms": ["linux/amd64"]})";
    return out;
  }
  for (const auto& [key, value] : parsed->items()) {
    if (key != "images" && key != "platforms") {
      out.error = fmt::format("unknown field '{}' (expected \"images\" and optionally \"platforms\")", printable(key, 40));
      return out;
    }
  }
  const auto images = parsed->find("images");
  if (images == parsed->end() || !images->is_array() || images->empty()) {
    out.error = "\"images\" must be a non-empty array of image references";
    return out;
  }
  if (images->size() > limits.max_images) {
    out.error = fmt::format("{} images in one request; at most {} (split the list)", images->size(), limits.max_images);
    return out;
  }
  WarmRequest request;
  std::set<std::string> seen;
  for (const auto& item : *images) {
    if (!item.is_string()) {
      out.error = "\"images\" must hold strings (image references)";
      return out;
    }
    const auto text = item.get<std::string>();
    auto reference = parse_image_reference(text);
    if (!reference.reference) {
      out.error = fmt::format("image '{}': {}", printable(text, 200), reference.error);
      return out;
    }
    if (reference.reference->tag.empty() && reference.reference->digest.empty()) reference.reference->tag = "latest";
    // The same image twice would only be warmed twice.
    if (seen.insert(reference.reference->str()).second) request.images.push_back(std::move(*reference.reference));
  }
  if (const auto platforms = parsed->find("platforms"); platforms != parsed->end() && !platforms->is_null()) {
    if (!platforms->is_array()) {
      out.error = "\"platforms\" must be an array like [\"linux/amd64\", \"linux/arm64\"]";
      return out;
    }
    for (const auto& item : *platforms) {
      auto platform = item.is_string() ? parse_platform(item.get<std::string>()) : std::nullopt;
      if (!platform) {
        out.error = fmt::format("platform {}: expected os/architecture[/variant], like linux/amd64 or linux/arm/v7",
                                item.is_string() ? "'" + printable(item.get<std::string>(), 80) + "'" : item.type_name());
        return out;
      }
      if (std::find(request.platforms.begin(), request.platforms.end(), *platform) == request.platforms.end()) {
        request.platforms.push_back(std::move(*platform));
      }
    }
  }
  out.request = std::move(request);
  return out;
}

bool is_index_type(std::string_view media_type) {
  return media_type == cache::kOciIndex || media_type == cache::kDockerManifestList;
}

std::string manifest_media_type(std::string_view content_type, std::string_view body) {
  auto type = to_lower(trim(content_type.substr(0, content_type.find(';'))));
  if (!type.empty() && type != "application/json" && type != "application/octet-stream") return type;
  const auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) return "";
  auto declared = string_field(*parsed, "mediaType");
  if (!declared.empty()) return declared;
  // An OCI index or manifest without mediaType: its shape says which.
  if (parsed->contains("manifests")) return std::string(cache::kOciIndex);
  if (parsed->contains("layers")) return std::string(cache::kOciManifest);
  return "";
}

bool platform_matches(const Platform& wanted, const Platform& candidate) {
  if (wanted.os != candidate.os || wanted.architecture != candidate.architecture) return false;
  if (wanted.variant.empty()) return true;
  // arm64's only variant is v8, and images often leave it out.
  const auto variant = candidate.variant.empty() && candidate.architecture == "arm64" ? std::string("v8")
                                                                                      : candidate.variant;
  return wanted.variant == variant;
}

IndexSelection select_manifests(std::string_view index_body, const std::vector<Platform>& platforms) {
  IndexSelection out;
  const auto parsed = parse_json(index_body);
  const json* manifests = nullptr;
  if (parsed && parsed->is_object()) {
    const auto it = parsed->find("manifests");
    if (it != parsed->end() && it->is_array()) manifests = &*it;
  }
  if (!manifests) {
    out.error = "the index holds no \"manifests\" array";
    return out;
  }
  std::set<std::string> seen;
  for (const auto& item : *manifests) {
    auto descriptor = descriptor_of(item);
    if (!descriptor) {
      out.error = "the index holds an entry without a valid digest";
      return out;
    }
    bool wanted = platforms.empty();
    for (const auto& platform : platforms) {
      if (descriptor->platform && platform_matches(platform, *descriptor->platform)) wanted = true;
    }
    if (wanted && seen.insert(descriptor->digest).second) out.manifests.push_back(std::move(*descriptor));
  }
  if (out.manifests.empty()) {
    std::vector<std::string> names;
    for (const auto& platform : platforms) names.push_back(platform.str());
    out.error = platforms.empty() ? "the index lists no manifests"
                                  : fmt::format("the index has no manifest for {}", fmt::join(names, ", "));
  }
  return out;
}

ImageBlobs manifest_blobs(std::string_view manifest_body) {
  ImageBlobs out;
  const auto parsed = parse_json(manifest_body);
  if (!parsed || !parsed->is_object()) {
    out.error = "the manifest is not a JSON object";
    return out;
  }
  const auto config = parsed->find("config");
  const auto layers = parsed->find("layers");
  if (config == parsed->end() || layers == parsed->end() || !layers->is_array()) {
    out.error = "not an image manifest (no \"config\" and \"layers\"; schema 1 manifests are not warmed)";
    return out;
  }
  auto config_descriptor = descriptor_of(*config);
  if (!config_descriptor) {
    out.error = "the manifest's config has no valid digest";
    return out;
  }
  out.blobs.push_back(std::move(*config_descriptor));
  for (const auto& layer : *layers) {
    auto descriptor = descriptor_of(layer);
    if (!descriptor) {
      out.error = "a layer of the manifest has no valid digest";
      out.blobs.clear();
      return out;
    }
    out.blobs.push_back(std::move(*descriptor));
  }
  return out;
}

std::string manifests_line(const ImageProgress& progress) {
  auto line = base(progress, "manifests");
  add_counts(line, progress);
  if (!progress.platforms.empty()) line["platforms"] = progress.platforms;
  return line_of(line);
}

std::string blob_line(const ImageProgress& progress, std::string_view blob, bool cached) {
  auto line = base(progress, "blob");
  line["digest"] = blob;
  line["cached"] = cached;
  add_counts(line, progress);
  return line_of(line);
}

std::string bytes_line(const ImageProgress& progress) {
  auto line = base(progress, "progress");
  add_counts(line, progress);
  return line_of(line);
}

std::string done_line(const ImageProgress& progress) {
  auto line = base(progress, "done");
  add_counts(line, progress);
  return line_of(line);
}

std::string failed_line(const ImageProgress& progress, std::string_view reason) {
  auto line = base(progress, "failed");
  line["reason"] = reason;
  add_counts(line, progress);
  return line_of(line);
}

std::string summary_line(const WarmSummary& summary) {
  return line_of(json{{"event", "summary"},
                      {"images", summary.images},
                      {"warmed", summary.warmed},
                      {"failed", summary.failed},
                      {"bytes", summary.bytes},
                      {"seconds", summary.seconds}});
}

}  // namespace pt::ops
