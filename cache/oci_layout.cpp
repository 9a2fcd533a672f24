#include "cache/oci_layout.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pt::cache {
namespace {

using json = nlohmann::json;

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

std::string string_member(const json& object, const char* name) {
  const auto* value = member(object, name);
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

// A descriptor's media type, digest and size; nullopt and the reason when one is missing or wrong.
std::optional<OciDescriptor> read_descriptor(const json& item, std::string& why) {
  if (!item.is_object()) {
    why = "is not a JSON object";
    return std::nullopt;
  }
  const auto* digest = member(item, "digest");
  const auto parsed = digest && digest->is_string() ? Digest::parse(digest->get<std::string>()) : std::nullopt;
  if (!parsed) {
    why = digest ? "has a digest that is not sha256:<64 lower-case hex>" : "has no digest";
    return std::nullopt;
  }
  const auto* size = member(item, "size");
  if (!size || !size->is_number_unsigned()) {
    why = "has no size";
    return std::nullopt;
  }
  OciDescriptor out{.digest = *parsed, .size = size->get<std::uint64_t>()};
  out.media_type = string_member(item, "mediaType");
  if (const auto* platform = member(item, "platform")) {
    const auto os = string_member(*platform, "os");
    const auto architecture = string_member(*platform, "architecture");
    const auto variant = string_member(*platform, "variant");
    if (!os.empty() || !architecture.empty()) {
      out.platform = variant.empty() ? fmt::format("{}/{}", os, architecture)
                                     : fmt::format("{}/{}/{}", os, architecture, variant);
    }
  }
  return out;
}

bool printable_text(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string oci_layout_json() { return R"({"imageLayoutVersion":"1.0.0"})"; }

ParseResult<bool> parse_oci_layout(std::string_view text) {
  const auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return ParseResult<bool>::failure("oci-layout is not a JSON object");
  const auto version = string_member(parsed, "imageLayoutVersion");
  if (!version.starts_with("1.")) {
    return ParseResult<bool>::failure("oci-layout: imageLayoutVersion is not 1.x");
  }
  return ParseResult<bool>::success(true);
}

std::string oci_blob_path(const Digest& digest) { return fmt::format("{}/{}", kOciBlobsDir, digest.hex()); }

std::optional<Digest> digest_of_blob_path(std::string_view path) {
  if (!path.starts_with(kOciBlobsDir) || path.size() != kOciBlobsDir.size() + 65 || path[kOciBlobsDir.size()] != '/') {
    return std::nullopt;
  }
  return Digest::parse(fmt::format("sha256:{}", path.substr(kOciBlobsDir.size() + 1)));
}

std::string oci_index_json(const std::vector<OciImage>& images) {
  json manifests = json::array();
  for (const auto& image : images) {
    manifests.push_back({{"mediaType", image.descriptor.media_type},
                         {"digest", image.descriptor.digest.str()},
                         {"size", image.descriptor.size},
                         {"annotations",
                          {{std::string(kContainerdNameAnnotation), image.name},
                           {std::string(kRefNameAnnotation), image.name}}}});
  }
  const json index = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.index.v1+json"},
                      {"manifests", manifests}};
  return index.dump(2) + "\n";
}

ParseResult<std::vector<OciIndexEntry>> parse_oci_index(std::string_view text, std::size_t max_entries) {
  using Result = ParseResult<std::vector<OciIndexEntry>>;
  const auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Result::failure("index.json is not valid JSON");
  if (!parsed.is_object()) return Result::failure("index.json is not a JSON object");
  const auto* manifests = member(parsed, "manifests");
  if (!manifests || !manifests->is_array()) return Result::failure("index.json has no \"manifests\" array");
  if (manifests->size() > max_entries) {
    return Result::failure(fmt::format("index.json lists {} images, more than the limit of {}", manifests->size(), max_entries));
  }
  std::vector<OciIndexEntry> entries;
  for (std::size_t i = 0; i < manifests->size(); ++i) {
    const auto& item = (*manifests)[i];
    std::string why;
    auto descriptor = read_descriptor(item, why);
    if (!descriptor) return Result::failure(fmt::format("index.json: manifests[{}] {}", i, why));
    OciIndexEntry entry{.descriptor = std::move(*descriptor)};
    if (!printable_text(entry.descriptor.media_type)) {
      return Result::failure(fmt::format("index.json: manifests[{}] has a media type that is not printable", i));
    }
    if (const auto* annotations = member(item, "annotations")) {
      entry.containerd_name = string_member(*annotations, std::string(kContainerdNameAnnotation).c_str());
      entry.ref_name = string_member(*annotations, std::string(kRefNameAnnotation).c_str());
    }
    entries.push_back(std::move(entry));
  }
  return Result::success(std::move(entries));
}

std::optional<ManifestSummary> summarise_manifest(std::string_view body) {
  const auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  ManifestSummary summary;
  summary.media_type = string_member(parsed, "mediaType");
  if (!printable_text(summary.media_type)) return std::nullopt;
  if (const auto* manifests = member(parsed, "manifests")) {
    if (!manifests->is_array()) return std::nullopt;
    summary.is_index = true;
    for (const auto& item : *manifests) {
      std::string why;
      auto child = read_descriptor(item, why);
      if (!child || !printable_text(child->media_type) || !printable_text(child->platform)) return std::nullopt;
      summary.children.push_back(std::move(*child));
    }
    return summary;
  }
  const auto* config = member(parsed, "config");
  const auto* layers = member(parsed, "layers");
  if (!config || !layers || !layers->is_array()) return std::nullopt;
  std::string why;
  const auto config_descriptor = read_descriptor(*config, why);
  if (!config_descriptor) return std::nullopt;
  summary.blobs.push_back(config_descriptor->digest);
  for (const auto& layer : *layers) {
    const auto descriptor = read_descriptor(layer, why);
    if (!descriptor) return std::nullopt;
    summary.blobs.push_back(descriptor->digest);
  }
  return summary;
}

}  // namespace pt::cache
