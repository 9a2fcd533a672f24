#include "dockersock/image_reference.hpp"

#include <algorithm>
#include <cctype>

namespace pt::dockersock {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// distribution/reference: path components are [a-z0-9]+ joined by ".", "_", "__" or "-"+.
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  return std::ranges::all_of(c, [](char ch) { return is_lower_alnum(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  return std::ranges::all_of(t, [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool valid_digest(std::string_view d) {
  const auto colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto algo = d.substr(0, colon);
  const auto hex = d.substr(colon + 1);
  if (!std::ranges::all_of(algo, [](char c) { return is_lower_alnum(c) || c == '+' || c == '.' || c == '_' || c == '-'; })) {
    return false;
  }
  if (hex.size() < 32) return false;
  return std::ranges::all_of(hex, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

bool valid_registry(std::string_view r) {
  if (r.empty()) return false;
  return std::ranges::all_of(r, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

ParsedReference failure(std::string text) { return {std::nullopt, std::move(text)}; }

}  // namespace

std::string normalize_registry(std::string_view registry) {
  std::string r(registry);
  std::ranges::transform(r, r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (r == "index.docker.io" || r == "registry-1.docker.io" || r == "registry.hub.docker.com") return "docker.io";
  return r;
}

ParsedReference parse_reference(std::string_view text) {
  if (text.empty()) return failure("empty image reference");
  if (text.size() > 4096) return failure("image reference too long");
  ImageReference ref;
  std::string_view name = text;
  if (const auto at = name.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (!valid_digest(ref.digest)) return failure("invalid digest in image reference '" + std::string(text) + "'");
  }
  // A tag follows the last ':' that comes after the last '/' ("localhost:5000/app" has none).
  const auto slash = name.rfind('/');
  if (const auto colon = name.rfind(':'); colon != std::string_view::npos &&
                                          (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!valid_tag(ref.tag)) return failure("invalid tag in image reference '" + std::string(text) + "'");
  }
  const auto first_slash = name.find('/');
  const auto first = name.substr(0, first_slash);
  if (first_slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost")) {
    if (!valid_registry(first)) return failure("invalid registry in image reference '" + std::string(text) + "'");
    ref.registry = normalize_registry(first);
    name = name.substr(first_slash + 1);
  } else {
    ref.registry = "docker.io";
  }
  ref.repository = std::string(name);
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  std::string_view rest = ref.repository;
  while (true) {
    const auto s = rest.find('/');
    if (!valid_path_component(rest.substr(0, s))) {
      return failure("invalid repository name in image reference '" + std::string(text) +
                     "' (lower-case letters, digits and separators only)");
    }
    if (s == std::string_view::npos) break;
    rest = rest.substr(s + 1);
  }
  return {std::move(ref), {}};
}

ImageReference with_default_tag(ImageReference ref) {
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string mirror_repository(const ImageReference& ref, std::string_view mirror) {
  std::string out(mirror);
  out += '/';
  if (ref.registry != "docker.io") out += ref.registry + "/";
  out += ref.repository;
  return out;
}

std::string with_suffix(const std::string& repository, const ImageReference& ref) {
  if (!ref.digest.empty()) return repository + "@" + ref.digest;
  if (!ref.tag.empty()) return repository + ":" + ref.tag;
  return repository;
}

}  // namespace pt::dockersock
