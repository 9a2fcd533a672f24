#pragma once
// Docker image references as the engine understands them ("ubuntu", "quay.io/org/app:1",
// "localhost:5000/x@sha256:..."), normalised the way docker's distribution/reference does, and
// their name on the pullthrough mirror listener.
#include <optional>
#include <string>
#include <string_view>

namespace pt::dockersock {

struct ImageReference {
  std::string registry;    // "docker.io" for Docker Hub (never index.docker.io)
  std::string repository;  // path inside the registry: "library/ubuntu", "org/app"
  std::string tag;         // empty when none was given
  std::string digest;      // "sha256:<hex>", empty when none was given

  // "docker.io/library/ubuntu", "quay.io/org/app".
  std::string full_repository() const { return registry + "/" + repository; }
};

struct ParsedReference {
  std::optional<ImageReference> reference;
  std::string error;  // why it is not a valid reference, when reference is empty
};

// Parses a reference like docker does: the first path component names a registry when it holds
// '.' or ':' or is "localhost"; Docker Hub is docker.io (index.docker.io is an alias) and its
// one-component names are in library/. No tag is filled in: see with_default_tag().
ParsedReference parse_reference(std::string_view text);

// The tag "latest" when the reference has neither a tag nor a digest.
ImageReference with_default_tag(ImageReference ref);

// The registry name a user may write in the rewrite list, normalised the same way
// ("index.docker.io", "registry-1.docker.io" -> "docker.io"; lower case).
std::string normalize_registry(std::string_view registry);

// The repository on the mirror: MIRROR/library/ubuntu for Docker Hub, MIRROR/quay.io/org/app for
// other registries (the mirror listener takes the first path component holding '.' or ':' as the
// registry).
std::string mirror_repository(const ImageReference& ref, std::string_view mirror);

// "repo:tag", "repo@digest" (a digest wins over a tag, as for the engine), or "repo".
std::string with_suffix(const std::string& repository, const ImageReference& ref);

}  // namespace pt::dockersock
