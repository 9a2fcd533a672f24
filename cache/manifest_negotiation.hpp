#pragma once
// Which stored manifest answers a client's Accept header: content negotiation for tags, as the
// registry does it. Pure: no I/O.
//
// Clients announce the manifest types they understand: containerd, docker, podman and skopeo
// accept image indexes; old clients and some scripts take only a single-platform manifest. A
// registry answers a tag with the index when the client accepts one, else with a platform
// manifest (distribution picks linux/amd64 from a Docker manifest list). We follow it: among the
// tag's stored variants whose type the client accepts, an index first, then the newest.
#include "cache/digest.hpp"
#include "cache/tag_record.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cache {

inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

bool is_index_media_type(std::string_view media_type);

// The media types of an Accept header. Parameters other than q are ignored; a type with q=0 is
// refused, not accepted. An absent or empty header accepts anything, as does "*/*".
class AcceptedTypes {
public:
  static AcceptedTypes parse(std::string_view accept_header);

  bool accepts(std::string_view media_type) const;
  // True when the client accepts some index type (what it would get from the registry first).
  bool accepts_index() const { return accepts(kOciIndex) || accepts(kDockerManifestList); }
  // True when it accepts every index and manifest type: what such a client gets for a tag is
  // what the tag is (TagRecord::head_digest).
  bool accepts_every_manifest_type() const {
    return accepts(kOciIndex) && accepts(kDockerManifestList) && accepts(kOciManifest) && accepts(kDockerManifest);
  }

private:
  std::vector<std::string> types_;  // lower-case; may hold "*/*" and "type/*"
  std::vector<std::string> refused_;
  bool anything_ = false;
};

// The variant of `record` that answers a client accepting `accepted`; nullopt when none fits.
std::optional<TagVariant> choose_variant(const TagRecord& record, const AcceptedTypes& accepted);

// The Accept header of the proxy's own revalidation HEAD: every manifest type, so the answer is
// the tag's identity (its index when it has one) whichever client caused the HEAD.
std::string revalidation_accept();

// From an image index or manifest list body: the manifest of `os`/`architecture` (no variant
// required), as a registry would pick it for a client that takes no index.
struct PlatformManifest {
  Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
};
std::optional<PlatformManifest> platform_manifest(std::string_view index_body, std::string_view os = "linux",
                                                  std::string_view architecture = "amd64");

// A registry-style error body ({"errors":[{"code":...,"message":...}]}).
std::string registry_error_body(std::string_view code, std::string_view message);

}  // namespace pt::cache
