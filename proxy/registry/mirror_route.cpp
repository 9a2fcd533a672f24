#include "proxy/registry/mirror_route.hpp"

#include "common/host_port.hpp"
#include "common/image_reference.hpp"
#include "proxy/http/percent_encoding.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace pt::registry {
namespace {

// Repository names as the distribution spec allows them (lower-case components of [a-z0-9] with
// '.', '_', '-' separators, joined by '/'), checked loosely but strictly enough that nothing odd
// ("..", empty components, '%', upper case) reaches an upstream path or a cache key.
bool is_valid_repository(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  std::size_t start = 0;
  for (;;) {
    const auto slash = name.find('/', start);
    const auto component = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (component.empty()) return false;
    const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(component.front()) || !alnum(component.back())) return false;
    for (char c : component) {
      if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// The end of the repository name in "<name>/manifests/<ref>" and the other API paths: the last
// API keyword, since references, digests and upload ids never contain '/' ("<name>/blobs/uploads/<id>"
// included: "uploads/<id>" holds no keyword).
std::optional<std::size_t> name_end(std::string_view rest) {
  std::optional<std::size_t> end;
  for (std::string_view keyword : {"/manifests/", "/blobs/", "/tags/", "/referrers/"}) {
    const auto at = rest.rfind(keyword);
    if (at == std::string_view::npos) continue;
    if (!end || at > *end) end = at;
  }
  return end;
}

}  // namespace

std::optional<MirrorRegistry> parse_mirror_registry(std::string_view text) {
  if (text.starts_with("https://")) text.remove_prefix(8);
  while (text.ends_with('/')) text.remove_suffix(1);
  auto parsed = parse_authority(text);
  if (!parsed) return std::nullopt;
  MirrorRegistry registry{parsed->host, parsed->port.value_or(443)};
  if (registry.port == 443 && is_docker_hub(registry.host)) registry.host = std::string(docker_hub_host);
  return registry;
}

MirrorRoute route_mirror_request(std::string_view target, const MirrorRegistry& default_registry) {
  MirrorRoute route;
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  if (path == "/v2" || path == "/v2/") {
    route.kind = MirrorRoute::Kind::ping;
    return route;
  }
  if (!path.starts_with("/v2/")) {
    route.error = "only the registry API (/v2/...) is served here";
    return route;
  }

  // The query without ns=, which is for us only.
  std::optional<std::string> ns;
  std::string kept_query;
  for (std::size_t start = 0; start <= query.size() && !query.empty();) {
    const auto amp = query.find('&', start);
    const auto item = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (item.starts_with("ns=")) {
      ns = http::percent_decode(item.substr(3), http::Plus::space);  // "ns=registry.test%3A5000"
      if (!ns) {
        route.kind = MirrorRoute::Kind::bad_name;
        route.error = "invalid ns parameter";
        return route;
      }
    } else if (!item.empty()) {
      if (!kept_query.empty()) kept_query += '&';
      kept_query += item;
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }

  const std::string_view rest = path.substr(4);
  const auto end = name_end(rest);
  if (!end || *end == 0) {
    route.error = "not a repository path of the registry API";
    return route;
  }
  std::string_view name = rest.substr(0, *end);
  const std::string_view suffix = rest.substr(*end);

  std::optional<MirrorRegistry> registry;
  if (ns) {
    registry = parse_mirror_registry(*ns);
    if (!registry) {
      route.kind = MirrorRoute::Kind::bad_name;
      route.error = "invalid ns parameter (expected host or host:port)";
      return route;
    }
  } else if (const auto host = registry_component(name)) {
    registry = parse_mirror_registry(*host);
    if (!registry) {
      route.kind = MirrorRoute::Kind::bad_name;
      route.error = "invalid registry name in the repository path";
      return route;
    }
    name.remove_prefix(host->size() + 1);
  } else {
    registry = default_registry;
  }

  if (!is_valid_repository(name)) {
    route.kind = MirrorRoute::Kind::bad_name;
    route.error = "invalid repository name";
    return route;
  }
  route.repository = std::string(name);
  if (registry->is_docker_hub() && route.repository.find('/') == std::string::npos) {
    route.repository = "library/" + route.repository;
  }
  route.kind = MirrorRoute::Kind::registry;
  route.registry = *registry;
  route.target = "/v2/" + route.repository + std::string(suffix);
  if (!kept_query.empty()) route.target += "?" + kept_query;
  return route;
}

std::string registry_error_json(std::string_view code, std::string_view message) {
  nlohmann::json body = {{"errors", nlohmann::json::array({{{"code", code}, {"message", message}}})}};
  return body.dump() + "\n";
}

}  // namespace pt::registry
