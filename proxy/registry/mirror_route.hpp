#pragma once
// Where a request to the registry-mirror listener goes (pure; the I/O is in MirrorListener).
//
// A mirror client asks the mirror for "/v2/<name>/..." as if it were the registry. The registry
// meant is, in this order:
//   1. containerd's "?ns=<host[:port]>" (hosts.toml mirrors add it; "docker.io" is Docker Hub),
//   2. the first component of <name> when it looks like a host (has '.' or ':', or is
//      "localhost"): "mirror:5000/v2/quay.io/org/app/..." asks quay.io for org/app (what plain
//      docker/skopeo clients can express, and what the docker-socket mode rewrites pulls to),
//   3. MIRROR_UPSTREAM (default Docker Hub).
// Docker Hub names without '/' get "library/". "/v2/" itself is answered by the mirror.
#include "common/host_port.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::registry {

struct MirrorRegistry {
  std::string host;  // normalised; Docker Hub is always "registry-1.docker.io"
  std::uint16_t port = 443;

  std::string authority() const {
    return format_authority(host, port == 443 ? std::nullopt : std::optional<std::uint16_t>(port));
  }
  bool is_docker_hub() const { return host == "registry-1.docker.io" && port == 443; }
  bool operator==(const MirrorRegistry&) const = default;
};

// "host", "host:port", "[v6]:port"; Docker Hub's names (common/image_reference.hpp) name Docker
// Hub. A leading "https://" and a trailing '/' are tolerated. nullopt when invalid.
std::optional<MirrorRegistry> parse_mirror_registry(std::string_view text);

struct MirrorRoute {
  enum class Kind {
    ping,       // "/v2/": the mirror answers itself
    registry,   // relay to `registry` as `target`
    not_found,  // not a registry API path the mirror serves
    bad_name,   // an invalid repository name or ns= value
  };
  Kind kind = Kind::not_found;
  MirrorRegistry registry;
  std::string target;      // origin-form, for upstream: "/v2/<repository>/<rest>[?query without ns]"
  std::string repository;  // "library/alpine"
  std::string error;       // for not_found / bad_name: why (never quotes the input)
};

// `target` is the request target as received (origin-form expected).
MirrorRoute route_mirror_request(std::string_view target, const MirrorRegistry& default_registry);

// The registry-style JSON error body: {"errors":[{"code":...,"message":...}]}.
std::string registry_error_json(std::string_view code, std::string_view message);

}  // namespace pt::registry
