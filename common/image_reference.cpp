#include "common/image_reference.hpp"

#include "common/ascii.hpp"

#include <algorithm>
#include <array>

namespace pt {
namespace {

// distribution/reference: a name (registry included) is at most 255 characters.
constexpr std::size_t max_name_length = 255;
constexpr std::size_t max_tag_length = 128;
// Name, tag and the longest digest fit many times over; longer input is not scanned at all.
constexpr std::size_t max_reference_length = 4096;
// Shorter digests are no digest of any algorithm docker knows (sha256 is 64 hex digits).
constexpr std::size_t min_digest_hex = 32;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(to_lower(c)); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (to_lower(c) >= 'a' && to_lower(c) <= 'f'); }

// distribution/reference: a path component is runs of [a-z0-9] joined by ".", "_", "__" or "-"+.
// Registries refuse anything else, so it is refused here rather than sent as a doomed pull.
bool valid_path_component(std::string_view c) {
  std::size_t i = 0;
  const auto alnum_run = [&] {
    const auto start = i;
    while (i < c.size() && is_lower_alnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < c.size()) {
    const auto start = i;
    while (i < c.size() && !is_lower_alnum(c[i])) ++i;
    const auto separator = c.substr(start, i - start);
    const bool dashes = std::ranges::all_of(separator, [](char ch) { return ch == '-'; });
    if (separator != "." && separator != "_" && separator != "__" && !dashes) return false;
    if (!alnum_run()) return false;
  }
  return true;
}

bool valid_repository(std::string_view name) {
  while (true) {
    const auto slash = name.find('/');
    if (!valid_path_component(name.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    name.remove_prefix(slash + 1);
  }
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > max_tag_length) return false;
  const auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  return std::ranges::all_of(t, [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool valid_digest(std::string_view d) {
  const auto colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto algorithm = d.substr(0, colon);
  const auto hex = d.substr(colon + 1);
  const bool algorithm_ok = std::ranges::all_of(
      algorithm, [](char c) { return is_lower_alnum(c) || c == '+' || c == '.' || c == '_' || c == '-'; });
  return algorithm_ok && hex.size() >= min_digest_hex && std::ranges::all_of(hex, is_hex);
}

// Host names, "host:port" and "[v6]:port": checked loosely (the registry's own connection fails
// for a name that is no host), but strictly enough that nothing but an authority gets through.
bool valid_registry(std::string_view r) {
  return !r.empty() && std::ranges::all_of(r, [](char c) {
    return is_alnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

ParsedReference failure(std::string why) { return {std::nullopt, std::move(why)}; }

}  // namespace

bool is_docker_hub(std::string_view registry) {
  static constexpr std::array<std::string_view, 4> names = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                                            "registry.hub.docker.com"};
  return std::ranges::any_of(names, [&](std::string_view name) { return iequals(registry, name); });
}

std::string canonical_registry(std::string_view registry) {
  if (is_docker_hub(registry)) return std::string(docker_hub_registry);
  return to_lower(registry);
}

std::string registry_host(std::string_view registry) {
  if (is_docker_hub(registry)) return std::string(docker_hub_host);
  return to_lower(registry);
}

std::optional<std::string_view> registry_component(std::string_view reference) {
  const auto slash = reference.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto first = reference.substr(0, slash);
  if (first.find_first_of(".:") == std::string_view::npos && first != "localhost") return std::nullopt;
  return first;
}

std::string ImageReference::str() const {
  std::string out = full_repository();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

ParsedReference parse_image_reference(std::string_view text) {
  if (text.empty()) return failure("empty image reference");
  if (text.size() > max_reference_length) return failure("image reference too long");
  ImageReference ref;
  std::string_view name = text;
  if (const auto at = name.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (!valid_digest(ref.digest)) return failure("invalid digest (expected algorithm:hex, e.g. sha256:<64 hex>)");
  }
  // A tag follows the last ':' that comes after the last '/' ("localhost:5000/app" has none).
  const auto slash = name.rfind('/');
  if (const auto colon = name.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!valid_tag(ref.tag)) return failure("invalid tag (letters, digits, '_', '.' and '-', at most 128)");
  }
  if (name.size() > max_name_length) return failure("image name longer than 255 characters");
  if (const auto registry = registry_component(name)) {
    if (!valid_registry(*registry)) return failure("invalid registry host");
    ref.registry = canonical_registry(*registry);
    name.remove_prefix(registry->size() + 1);
  } else {
    ref.registry = std::string(docker_hub_registry);
  }
  ref.repository = std::string(name);
  // Docker Hub's official images live in library/: "ubuntu" is docker.io/library/ubuntu, and
  // that is the name its registry API knows.
  if (ref.registry == docker_hub_registry && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  if (!valid_repository(ref.repository)) {
    return failure("invalid repository name (lower-case letters and digits, joined by '.', '_', '-' or '/')");
  }
  return {std::move(ref), {}};
}

}  // namespace pt
