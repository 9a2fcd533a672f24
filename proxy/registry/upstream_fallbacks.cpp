#include "proxy/registry/upstream_fallbacks.hpp"

#include "cache/cache_key.hpp"
#include "common/ascii.hpp"
#include "common/host_port.hpp"
#include "common/image_reference.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace pt::registry {
namespace {


// "Mirror.GCR.io:5000/dockerhub/" -> {mirror.gcr.io, 5000, "dockerhub"}.
ParseResult<Upstream> parse_upstream(std::string_view text) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (istarts_with(text, scheme)) {
      if (scheme == "http://") return ParseResult<Upstream>::failure("upstreams are reached over https only");
      text.remove_prefix(scheme.size());
    }
  }
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  std::string_view prefix;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    prefix = text.substr(slash + 1);
    text = text.substr(0, slash);
    for (auto component : split_exact(prefix, "/")) {
      const bool valid = !component.empty() && std::all_of(component.begin(), component.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      });
      if (!valid) return ParseResult<Upstream>::failure("a repository prefix is lower-case path components");
    }
  }
  const auto authority = parse_authority(text);
  if (!authority) return ParseResult<Upstream>::failure(authority.error);
  if (!canonical_ip_literal(authority->host) && !is_valid_hostname(authority->host)) {
    return ParseResult<Upstream>::failure(std::string(hostname_problem(authority->host)));
  }
  Upstream upstream{.host = authority->host, .port = authority->port.value_or(443), .prefix = std::string(prefix)};
  if (upstream.port == 443) upstream.host = registry_host(upstream.host);
  return ParseResult<Upstream>::success(std::move(upstream));
}

}  // namespace

std::string Upstream::authority() const {
  return format_authority(host, port == 443 ? std::nullopt : std::optional<std::uint16_t>(port));
}

std::string Upstream::name() const { return prefix.empty() ? authority() : authority() + "/" + prefix; }

std::string Upstream::target_for(std::string_view target) const {
  constexpr std::string_view api = "/v2/";
  if (prefix.empty() || !target.starts_with(api) || target.size() == api.size()) return std::string(target);
  return fmt::format("{}{}/{}", api, prefix, target.substr(api.size()));
}

std::string Upstream::repository_for(std::string_view repository) const {
  return prefix.empty() ? std::string(repository) : fmt::format("{}/{}", prefix, repository);
}

UpstreamFallbacks::UpstreamFallbacks() = default;

ParseResult<UpstreamFallbacks> UpstreamFallbacks::parse(std::string_view text) {
  using Result = ParseResult<UpstreamFallbacks>;
  Table table;
  // Runs of whitespace separate entries: one per line or several on one, as compose files write them.
  for (auto word : split_words(text)) {
    auto fail = [word](std::string_view why) {
      return Result::failure(fmt::format("entry '{}': {}", printable(word), why));
    };
    const auto equals = word.find('=');
    if (equals == std::string_view::npos) return fail("write registry=upstream,upstream...");
    const auto registry = parse_authority(trim(word.substr(0, equals)));
    if (!registry) return fail(registry.error);
    const std::string key = cache::registry_authority(registry->host, registry->port.value_or(443));
    if (table.contains(key)) return fail(fmt::format("{} is listed twice", key));
    UpstreamChain chain;
    for (auto item : split_exact(word.substr(equals + 1), ",")) {
      if (item.empty()) return fail("an upstream is empty");
      auto upstream = parse_upstream(item);
      if (!upstream) return fail(fmt::format("upstream '{}': {}", printable(item), upstream.error));
      if (std::find(chain.begin(), chain.end(), *upstream) != chain.end()) {
        return fail(fmt::format("upstream {} is listed twice", upstream->name()));
      }
      chain.push_back(std::move(*upstream.value));
    }
    table.emplace(key, std::make_shared<const UpstreamChain>(std::move(chain)));
  }
  UpstreamFallbacks fallbacks;
  fallbacks.table_.replace(std::make_shared<const Table>(std::move(table)));
  return Result::success(std::move(fallbacks));
}

void UpstreamFallbacks::replace(const UpstreamFallbacks& other) { table_.replace(other.table_.get()); }

std::shared_ptr<const UpstreamChain> UpstreamFallbacks::chain_for(std::string_view host, std::uint16_t port) const {
  const auto table = table_.get();
  if (table->empty()) return nullptr;
  const auto found = table->find(cache::registry_authority(normalize_host(host), port));
  return found == table->end() ? nullptr : found->second;
}

std::vector<std::string> UpstreamFallbacks::describe() const {
  std::vector<std::string> lines;
  for (const auto& [registry, chain] : *table_.get()) {
    std::vector<std::string> names;
    for (const auto& upstream : *chain) names.push_back(upstream.name());
    lines.push_back(fmt::format("{}: {}", registry, fmt::join(names, ", then ")));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

bool UpstreamFallbacks::empty() const { return table_.get()->empty(); }

FallbackVerdict judge_answer(int status, bool is_registry) {
  if (status >= 500 || status == 429) return FallbackVerdict::next_down;
  if (status == 404) return FallbackVerdict::next;
  // A mirror that refuses the proxy (its credentials, or none, after its token was fetched) cannot
  // serve this pull; the registry's refusal is the client's to see, with its challenge.
  if ((status == 401 || status == 403) && !is_registry) return FallbackVerdict::next;
  return FallbackVerdict::answer;
}

}  // namespace pt::registry
