#pragma once
// `pullthrough cache export`: cached images written out as an OCI image layout in a tar, for a
// site that cannot reach the registries (oci_layout.hpp has the format; cache_import.hpp reads it
// back into another cache).
//
// An image is a tag or a digest of a repository. For a tag, the record's preferred variant (what
// a client accepting every manifest type gets: its image index when one is stored) is the image.
// An index goes with every platform manifest that is stored and complete (its config and layers
// cached); the other platforms are skipped and named in ExportedImage::skipped, since a cache
// holds only the platforms its clients pulled. A single manifest must be complete.
//
// Works on a live cache (a read-only Index, see Index::open_reader): the files it streams stay
// readable even if the proxy evicts them meanwhile. Blocking.
#include "cache/blob_store.hpp"
#include "cache/index.hpp"
#include "cache/oci_layout.hpp"
#include "cache/tar_writer.hpp"
#include "common/image_reference.hpp"

#include <optional>
#include <string>
#include <vector>

namespace pt::cache {

struct ExportedImage {
  ImageReference reference;  // as asked (Docker Hub as docker.io): the archive's name for it
  std::optional<OciDescriptor> top;  // set once planned
  std::vector<Digest> manifests;  // top first, then the platform manifests included
  std::vector<Digest> blobs;      // configs and layers
  std::vector<std::string> skipped;  // platforms left out, and why
};

struct ExportPlan {
  std::vector<ExportedImage> images;
  std::vector<std::string> errors;  // images that cannot be exported: nothing should be written
};

// Manifests are read (and verified) up to this size.
inline constexpr std::size_t kMaxManifestBytes = 4 << 20;

ExportPlan plan_export(const Index& index, const BlobStore& blobs, const std::vector<ImageReference>& references);

struct ExportResult {
  std::string error;  // empty on success
  std::size_t files = 0;  // blobs written (each digest once)
  std::uint64_t bytes = 0;  // archive size
};

// Writes the plan's images as an OCI layout through `sink`. Every file is re-hashed while it is
// streamed: a blob damaged on disk fails the export rather than go out in the archive.
ExportResult write_export(const ExportPlan& plan, const BlobStore& blobs, const TarSink& sink);

}  // namespace pt::cache
