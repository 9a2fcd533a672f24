#pragma once
// Which CONNECT targets are intercepted (TLS terminated, cached) rather than tunnelled untouched:
// rpardini's REGISTRIES, plus Docker Hub, which is always intercepted.
//
// The set may change while the proxy runs (SIGHUP re-reads REGISTRIES; reloaded credentials add
// their hosts): it is an immutable snapshot swapped under a mutex, so a check never sees half an
// update, and connections already intercepted or tunnelled stay as they are.
#include "auth/host_pattern.hpp"

#include <cstdint>
#include <memory>
#include "common/snapshot.hpp"
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::auth {

class RegistryMatcher {
public:
  // The hosts a Docker Hub pull talks to; always intercepted.
  static const std::vector<std::string_view>& docker_hub_hosts();

  // Docker Hub only.
  RegistryMatcher();

  // Docker Hub plus every entry of `registries` (see add()), separated by spaces, commas or
  // newlines. Throws std::invalid_argument naming the first bad entry.
  explicit RegistryMatcher(std::string_view registries);

  // A copy holds the same snapshot; assignment is replace().
  RegistryMatcher(const RegistryMatcher&) = default;
  RegistryMatcher& operator=(const RegistryMatcher&) = default;

  // Every later check uses `other`'s entries.
  void replace(const RegistryMatcher& other);

  // Adds one REGISTRIES entry: "host" (any port), "host:port" (that port only), or "*.suffix"
  // (every name below suffix). Case-insensitive. Normalisation, so that URLs pasted from a browser
  // or a registry's docs work: a leading "https://" or "http://" and trailing '/' are dropped; any
  // other path is refused, because interception is per host ("ghcr.io/org" -> write "ghcr.io").
  // "docker.io" names Docker Hub, which is always included. Throws std::invalid_argument.
  void add(std::string_view entry);

  // Adds an already validated host (e.g. one taken from AUTH_REGISTRIES). Duplicates are ignored.
  void add_host(std::string_view host, std::optional<std::uint16_t> port);

  // `host` as parse_connect_target returns it (case and a trailing dot are tolerated anyway).
  bool intercepts(std::string_view host, std::uint16_t port) const;

  // Every entry as configured after normalisation, Docker Hub first, for the startup log.
  std::vector<std::string> entries() const;

  // The ports named by entries ("myreg:5000" -> 5000), for the default ALLOWED_CONNECT.
  std::vector<std::uint16_t> ports() const;

private:
  using Patterns = std::vector<HostPattern>;
  void add_pattern(HostPattern pattern);
  std::shared_ptr<const Patterns> snapshot() const { return patterns_.get(); }

  Snapshot<Patterns> patterns_;
};

}  // namespace pt::auth
