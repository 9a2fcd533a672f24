#include "auth/registry_matcher.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pt::auth {
namespace {

constexpr std::string_view docker_hub_alias = "docker.io";

[[noreturn]] void reject(std::string_view entry, std::string_view why) {
  throw std::invalid_argument(fmt::format("REGISTRIES entry '{}': {}", printable(entry), why));
}

// "https://Quay.io/" -> "Quay.io"; refuses other schemes and paths.
std::string_view strip_url_decoration(std::string_view entry) {
  std::string_view text = entry;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (istarts_with(text, scheme)) {
      text.remove_prefix(scheme.size());
      break;
    }
  }
  if (text.find("://") != std::string_view::npos) reject(entry, "only http:// or https:// may precede the host");
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    reject(entry, fmt::format("registries are intercepted per host, without a path; write '{}'",
                              printable(text.substr(0, slash))));
  }
  return text;
}

}  // namespace

const std::vector<std::string_view>& RegistryMatcher::docker_hub_hosts() {
  static const std::vector<std::string_view> hosts = {
      "registry-1.docker.io", "auth.docker.io", "index.docker.io", "production.cloudflare.docker.com"};
  return hosts;
}

RegistryMatcher::RegistryMatcher() {
  for (auto host : docker_hub_hosts()) add_host(host, std::nullopt);
}

RegistryMatcher::RegistryMatcher(std::string_view registries) : RegistryMatcher() {
  for (auto entry : split_list(registries)) add(entry);
}

void RegistryMatcher::add(std::string_view entry) {
  const auto host_text = strip_url_decoration(trim(entry));
  auto pattern = parse_host_pattern(host_text);
  if (!pattern) reject(entry, pattern.error);
  // Docker Hub's hosts are always intercepted on every port, so the alias adds nothing.
  if (!pattern->wildcard && pattern->name == docker_hub_alias) return;
  add_pattern(std::move(*pattern.value));
}

void RegistryMatcher::add_host(std::string_view host, std::optional<std::uint16_t> port) {
  add_pattern(HostPattern{normalize_host(host), false, port});
}

// Building a matcher (start-up, or a reload's new set before it is swapped in) is single-threaded:
// the read and the replace need not be one step.
void RegistryMatcher::add_pattern(HostPattern pattern) {
  const auto current = patterns_.get();
  if (std::find(current->begin(), current->end(), pattern) != current->end()) return;
  auto updated = std::make_shared<Patterns>(*current);
  updated->push_back(std::move(pattern));
  patterns_.replace(std::move(updated));
}

void RegistryMatcher::replace(const RegistryMatcher& other) { patterns_.replace(other.snapshot()); }

bool RegistryMatcher::intercepts(std::string_view host, std::uint16_t port) const {
  const auto normalized = normalize_host(host);
  const auto patterns = snapshot();
  return std::any_of(patterns->begin(), patterns->end(),
                     [&](const HostPattern& p) { return p.matches(normalized, port); });
}

std::vector<std::string> RegistryMatcher::entries() const {
  const auto patterns = snapshot();
  std::vector<std::string> out;
  out.reserve(patterns->size());
  for (const auto& p : *patterns) out.push_back(p.to_string());
  return out;
}

std::vector<std::uint16_t> RegistryMatcher::ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& p : *snapshot()) {
    if (p.port && std::find(out.begin(), out.end(), *p.port) == out.end()) out.push_back(*p.port);
  }
  return out;
}

}  // namespace pt::auth
