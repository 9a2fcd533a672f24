#include "cache/registry_request.hpp"

#include <cctype>

#include <algorithm>
#include <vector>

namespace pt::cache {
namespace {

constexpr std::size_t kMaxRepositoryLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_name_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// One path component of a repository name: alnum runs joined by ".", "_", "__" or "-+".
bool is_valid_name_component(std::string_view component) {
  std::size_t i = 0;
  const auto alnum_run = [&] {
    const std::size_t start = i;
    while (i < component.size() && is_name_alnum(component[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < component.size()) {
    const char separator = component[i];
    std::size_t run = 0;
    while (i < component.size() && component[i] == separator) {
      ++i;
      ++run;
    }
    const bool valid_separator = (separator == '.' && run == 1) ||
                                 (separator == '_' && run <= 2) || separator == '-';
    if (!valid_separator || !alnum_run()) return false;
  }
  return true;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return segments;
    start = slash + 1;
  }
}

std::string join_segments(const std::vector<std::string_view>& segments, std::size_t count) {
  std::string joined;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) joined.push_back('/');
    joined.append(segments[i]);
  }
  return joined;
}

bool is_write_method(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// Rejects every path shape that could mean something different after normalisation by a server
// or a filesystem. Legitimate clients never send these.
bool is_plain_path(std::string_view path) {
  if (path.find('%') != std::string_view::npos) return false;
  if (path.find("//") != std::string_view::npos) return false;
  if (path.find('\\') != std::string_view::npos) return false;
  for (const auto segment : split_path(path)) {
    if (segment == "." || segment == "..") return false;
  }
  return std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The one query a referrers list may carry and still be cached: "artifactType=<media type>", the
// type as url.Values encodes it ('/' and '+' percent-encoded) or plain. Anything else is relayed.
std::optional<std::string> referrers_filter(std::optional<std::string_view> query) {
  if (!query || query->empty()) return std::string();
  constexpr std::string_view name = "artifactType=";
  if (!query->starts_with(name)) return std::nullopt;
  const auto value = query->substr(name.size());
  const bool plain = !value.empty() && value.size() <= 255 && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '%' || c == '.' || c == '_' || c == '+' ||
           c == '-' || c == '/';
  });
  if (!plain) return std::nullopt;
  return std::string(value);
}

RegistryRequest classify_repository_path(const std::vector<std::string_view>& segments,
                                         std::optional<std::string_view> query) {
  const bool has_query = query.has_value();
  RegistryRequest request;
  const std::size_t n = segments.size();
  if (n < 3) return request;

  std::size_t name_length = 0;
  if (segments[n - 2] == "referrers") {
    auto filter = referrers_filter(query);
    request.digest = Digest::parse(segments[n - 1]);
    if (!filter || !request.digest) return RegistryRequest{};
    request.kind = RequestKind::referrers;
    request.reference = std::string(segments[n - 1]);
    request.artifact_type = std::move(*filter);
    name_length = n - 2;
  } else if (segments[n - 2] == "tags" && segments[n - 1] == "list") {
    request.kind = RequestKind::tag_list;
    name_length = n - 2;
  } else if (segments[n - 2] == "manifests" || segments[n - 2] == "blobs") {
    if (has_query) return request;  // not the plain resource a cache entry stands for
    request.reference = std::string(segments[n - 1]);
    const bool is_blob = segments[n - 2] == "blobs";
    if (looks_like_digest(request.reference)) {
      request.digest = Digest::parse(request.reference);
      if (!request.digest) return RegistryRequest{};  // e.g. sha512: valid, but not cacheable
      request.kind = is_blob ? RequestKind::blob : RequestKind::manifest_by_digest;
    } else if (!is_blob && is_valid_tag(request.reference)) {
      request.kind = RequestKind::manifest_by_tag;
    } else {
      return RegistryRequest{};
    }
    name_length = n - 2;
  } else {
    return request;
  }

  request.repository = join_segments(segments, name_length);
  if (!is_valid_repository_name(request.repository)) return RegistryRequest{};
  return request;
}

}  // namespace

std::string_view to_string(RequestKind kind) noexcept {
  switch (kind) {
    case RequestKind::ping: return "ping";
    case RequestKind::blob: return "blob";
    case RequestKind::manifest_by_digest: return "manifest_by_digest";
    case RequestKind::manifest_by_tag: return "manifest_by_tag";
    case RequestKind::tag_list: return "tag_list";
    case RequestKind::referrers: return "referrers";
    case RequestKind::catalog: return "catalog";
    case RequestKind::push: return "push";
    case RequestKind::other: return "other";
  }
  return "other";
}

bool is_valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepositoryLength) return false;
  const auto components = split_path(name);
  return std::all_of(components.begin(), components.end(), is_valid_name_component);
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength || !is_word(tag.front())) return false;
  return std::all_of(tag.begin() + 1, tag.end(),
                     [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

RegistryRequest classify_request(std::string_view method, std::string_view target) {
  RegistryRequest request;
  // Pushes are recognised by method alone so that a proxy refusing pushes refuses all of them.
  if (is_write_method(method)) {
    request.kind = RequestKind::push;
    return request;
  }
  const bool is_head = method == "HEAD";
  if (method != "GET" && !is_head) return request;

  const auto query_start = target.find('?');
  const auto path = target.substr(0, query_start);
  const bool has_query = query_start != std::string_view::npos;
  if (!path.starts_with("/v2/") || !is_plain_path(path) ||
      target.find('#') != std::string_view::npos) {
    return request;
  }

  if (path == "/v2/") {
    request.kind = RequestKind::ping;
  } else if (path == "/v2/_catalog") {
    request.kind = RequestKind::catalog;
  } else {
    const auto segments = split_path(path.substr(4));
    const auto uploads = std::adjacent_find(segments.begin(), segments.end(),
        [](std::string_view a, std::string_view b) { return a == "blobs" && b == "uploads"; });
    if (uploads != segments.end() && uploads != segments.begin()) {
      request.kind = RequestKind::push;  // upload status queries belong to a push
    } else {
      request = classify_repository_path(
          segments, has_query ? std::optional(target.substr(query_start + 1)) : std::nullopt);
    }
  }
  request.is_head = is_head;
  return request;
}

}  // namespace pt::cache
