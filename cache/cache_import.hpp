#pragma once
// `pullthrough cache import`: an OCI image layout in a tar (cache_export.hpp writes them; so do
// skopeo's oci-archive: and containerd's export, when their images carry a full name) indexed
// into the cache as if the proxy had pulled its images: blobs under the registry's blob keys,
// manifests by digest in their repository, and each tag's record naming the archive's manifest
// (its index when it has one), so a proxy started on the cache serves them with upstream gone.
//
// All or nothing. The archive comes from elsewhere and may be damaged or hostile, so everything
// is staged first (stage_import): each blob streamed into a temporary file of the cache
// (BlobStore::begin_write) and verified against its name, index.json and every manifest parsed,
// every blob an image needs present. Only then commit_import() touches the index; if that fails
// half way (disk full, RocksDB error) what it added is taken out again. A refused archive leaves
// the cache as it was, and its temporary files are deleted.
//
// Which registry, repository and tag: each index.json descriptor's io.containerd.image.name, else
// its org.opencontainers.image.ref.name, must be a full reference with the registry
// ("registry.test:5000/library/app:1.0", "docker.io/library/alpine:3.19"); a bare tag ("1.0") is
// refused, since the cache cannot know which registry it came from. Blocking.
#include "cache/cache_store.hpp"
#include "cache/oci_layout.hpp"
#include "cache/tar_reader.hpp"
#include "common/image_reference.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pt::cache {

struct ImportLimits {
  TarLimits tar;
  std::size_t max_index_bytes = 4 << 20;
  std::size_t max_manifest_bytes = 4 << 20;
  std::size_t max_images = 10000;
  // The cache's cap: an archive holding more than fits is refused before anything is indexed.
  std::uint64_t max_total_bytes = UINT64_MAX;
};

struct ImportedImage {
  ImageReference reference;  // from the archive (Docker Hub as docker.io)
  std::string name;          // as the cache names it (cache_name())
  std::vector<OciDescriptor> manifests;  // the image's own first, then the platform manifests held

  const OciDescriptor& top() const { return manifests.front(); }
  std::vector<Digest> blobs;
  std::vector<std::string> notes;  // platforms of an index the archive does not hold
};

struct StagedImport {
  std::vector<ImportedImage> images;
  std::map<std::string, BlobWriter> files;  // by digest text: verified, not published yet
  std::uint64_t bytes = 0;
  std::vector<std::string> notes;  // files of the archive that are not part of the layout
};

struct StageResult {
  std::optional<StagedImport> staged;
  std::string error;  // why the archive is refused
};

StageResult stage_import(const BlobStore& blobs, const TarSource& source, const ImportLimits& limits = {});

struct ImportResult {
  std::string error;  // empty on success; otherwise the cache is as it was
  std::size_t entries_added = 0;    // blob and manifest entries new to the index
  std::size_t entries_present = 0;  // already cached
  std::size_t files_written = 0;
  std::uint64_t bytes_written = 0;
  std::size_t tags = 0;
};

// Tag records are stale from `now` on: a proxy revalidates them when it can reach the registry
// (the tag may have moved since the export) and serves them STALE when it cannot.
ImportResult commit_import(CacheStore& store, StagedImport& staged, Timestamp now);

}  // namespace pt::cache
