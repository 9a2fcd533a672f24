#pragma once
// The OCI image layout as `cache export` writes it and `cache import` reads it: the JSON parts.
// Pure: no I/O.
//
//   oci-layout              {"imageLayoutVersion":"1.0.0"}
//   index.json              one descriptor per exported image, annotated with its name
//   blobs/sha256/<hex>      manifests, configs and layers, each named by its digest
//
// Each image's descriptor carries two annotations with the full reference
// ("registry.test:5000/library/app:1.0", "docker.io/library/alpine:3.19"):
//   org.opencontainers.image.ref.name   what `skopeo copy oci-archive:FILE.tar:<ref>` looks for
//                                       (containers/image matches it exactly; a full reference
//                                       is valid there and keeps two images' tags apart)
//   io.containerd.image.name            containerd's and docker's name for it; import reads this
//                                       first, as `ctr import` does
// The descriptor's media type is the manifest's own, Docker's included. (skopeo 1.9's OCI
// transport looks only at OCI-typed descriptors; calling a Docker manifest OCI would make it
// convert the manifests, whose digests would then no longer match.)
#include "cache/digest.hpp"
#include "common/parse_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cache {

inline constexpr std::string_view kOciLayoutFile = "oci-layout";
inline constexpr std::string_view kOciIndexFile = "index.json";
inline constexpr std::string_view kOciBlobsDir = "blobs/sha256";
inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";

struct OciDescriptor {
  std::string media_type;
  Digest digest;
  std::uint64_t size = 0;
  std::string platform;  // "os/architecture[/variant]" in an index's entries, else empty
};

// The content of the oci-layout file.
std::string oci_layout_json();
// Whether `json` is an oci-layout file of a version we read (1.x).
ParseResult<bool> parse_oci_layout(std::string_view json);

// "blobs/sha256/<hex>"
std::string oci_blob_path(const Digest& digest);
// The digest a path of the blobs directory names; nullopt for any other path.
std::optional<Digest> digest_of_blob_path(std::string_view path);

struct OciImage {
  OciDescriptor descriptor;
  std::string name;  // full reference, both annotations
};
std::string oci_index_json(const std::vector<OciImage>& images);

struct OciIndexEntry {
  OciDescriptor descriptor;
  std::string containerd_name;  // empty when not annotated
  std::string ref_name;
};
// index.json from an archive: a JSON object with "manifests", each a descriptor with a valid
// sha256 digest, a size and a media type. Errors name the entry. At most `max_entries`.
ParseResult<std::vector<OciIndexEntry>> parse_oci_index(std::string_view json, std::size_t max_entries = 10000);

// What a stored manifest says about itself and its children.
struct ManifestSummary {
  std::string media_type;   // its "mediaType" field; empty when absent (older OCI manifests)
  bool is_index = false;    // has "manifests"
  std::vector<OciDescriptor> children;  // an index's manifests
  std::vector<Digest> blobs;            // an image manifest's config and layers
};
// nullopt when it is not JSON, or not an image manifest or index we understand (a schema 1
// manifest, a child or blob without a valid sha256 digest).
std::optional<ManifestSummary> summarise_manifest(std::string_view body);

}  // namespace pt::cache
