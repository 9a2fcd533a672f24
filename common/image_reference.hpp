#pragma once
// Image references ("ubuntu", "quay.io/org/app:1", "localhost:5000/x@sha256:...") parsed by
// docker's rules (distribution/reference), and the one place that knows Docker Hub's names.
//
// Docker Hub goes by four names: "docker.io" (what docker and users write), "index.docker.io" (the
// legacy index name), "registry.hub.docker.com" (an older registry host some tools still write) and
// "registry-1.docker.io" (the host that actually serves the registry API). They are one
// registry everywhere in pullthrough, but two spellings are needed:
//   - "docker.io" in an ImageReference, in the Docker-socket mode's rewrite lists and in mirror
//     names, because that is how docker itself names Docker Hub (canonical_registry());
//   - "registry-1.docker.io" wherever a host is connected to, and therefore in cache keys and
//     `cache ls`, which record the upstream a response came from (registry_host()).
#include <optional>
#include <string>
#include <string_view>

namespace pt {

inline constexpr std::string_view docker_hub_registry = "docker.io";
inline constexpr std::string_view docker_hub_host = "registry-1.docker.io";

// True for the four Docker Hub names, in any case. `registry` is a host without a port: with one
// ("docker.io:5000") it names some other server, so callers that know the port check it is 443.
bool is_docker_hub(std::string_view registry);

// The registry as an ImageReference holds it: lower case (host names are case-insensitive, and
// docker compares registries as text), Docker Hub as "docker.io". A port stays as written.
std::string canonical_registry(std::string_view registry);

// The host to connect to for `registry`: canonical_registry(), but Docker Hub as
// "registry-1.docker.io" ("docker.io" serves a web site, not the registry API).
std::string registry_host(std::string_view registry);

// docker's rule for the first '/'-separated component of a reference: it names a registry when it
// holds '.' or ':' or is "localhost" (and something follows it); otherwise the whole text is a
// Docker Hub name ("ubuntu", "org/app"). Returns that component, or nullopt for a Hub name.
std::optional<std::string_view> registry_component(std::string_view reference);

struct ImageReference {
  std::string registry;    // canonical_registry(): "docker.io" for Docker Hub, "localhost:5000"
  std::string repository;  // path inside the registry: "library/ubuntu", "org/app"
  std::string tag;         // empty when none was given
  std::string digest;      // "sha256:<hex>", empty when none was given

  // "docker.io/library/ubuntu", "quay.io/org/app".
  std::string full_repository() const { return registry + "/" + repository; }
  // full_repository() plus ":tag" and "@digest" when given.
  std::string str() const;

  bool operator==(const ImageReference&) const = default;
};

struct ParsedReference {
  std::optional<ImageReference> reference;
  std::string error;  // why it is not a valid reference, when reference is empty; never quotes the input
};

// Parses a reference like docker does: an optional registry (registry_component()), the
// repository (lower-case components of letters and digits joined by '.', '_' or '-', separated by
// '/'), then ":tag" and/or "@algorithm:hex". Docker Hub's one-component names are in "library/".
// No tag is filled in when none is given: "no tag" means "latest" to a pull but "every tag" to
// other callers. Error texts never quote the input (it may be client input with control
// characters): callers add it, made printable, where it helps.
ParsedReference parse_image_reference(std::string_view text);

}  // namespace pt
