#pragma once
// Cache management: what `pullthrough cache ls|stats|rm|gc` and the /admin/cache API do.
//
// The index knows entries by cache key (cache_key.hpp), not images. To speak in images, a
// snapshot groups the entries by registry and repository and reads the stored manifests to learn
// which blobs and child manifests each one refers to.
//
// What `rm` removes (blobs are shared by all repositories of a registry, so they cannot simply
// go with a repository):
//   registry/name:tag      the tag (its record, every variant); then the manifests it pointed at, unless
//                          another remaining tag or manifest of the repository still uses them
//                          (children of a removed image index follow the same rule); then the
//                          blobs those manifests referenced that no remaining manifest of the
//                          registry references. Like the registry's "delete tag" followed by
//                          `garbage-collect --delete-untagged`. With tag_only: the tag alone (its
//                          next pull revalidates it upstream; nothing else is fetched again).
//   registry/name@digest   that manifest (and any tag of the repository pointing at it), then
//                          the same rule for children and blobs. A digest that is no manifest of
//                          the repository but a cached blob of the registry removes that blob.
//   registry/name          every tag and manifest of the repository, then its blobs as above.
// A blob file goes once no entry uses it any more (the index counts references per file).
//
// Everything here is blocking (RocksDB scans, manifest reads): call it through run_blocking.
// Removal on a live cache is safe against concurrent pulls (CacheStore serialises it with
// commits); a pull racing with `rm` may at worst find a blob gone and fetch it again.
#include "cache/cache_store.hpp"
#include "cache/digest.hpp"
#include "cache/timestamp.hpp"
#include "common/image_reference.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cache {

// One image-reference type for the whole program; named here too so that cache::ImageReference
// keeps meaning it for the callers of this API.
using pt::ImageReference;
using pt::ParsedReference;

// ---------------------------------------------------------------- pure parsing

// A cache key split into its parts (layout in cache_key.hpp); nullopt for anything else.
struct KeyParts {
  enum class Kind { blob, manifest, tag };
  Kind kind = Kind::blob;
  std::string registry;
  std::string repository;  // manifests and tags
  std::string tag;         // tags
  std::string variant;     // tags: the canonical Accept variant
  std::optional<Digest> digest;  // blobs and manifests
};
std::optional<KeyParts> parse_cache_key(std::string_view key);

// What `rm` names: "registry/name", "registry/name:tag" or "registry/name@sha256:...", parsed by
// docker's rules (common/image_reference.hpp), so "docker.io/alpine" is Docker Hub's
// library/alpine whichever of Hub's names is written. Stricter than docker: the registry must be
// given (no short Docker Hub names), only sha256 digests, and a tag or a digest but not both.
// The reference keeps the canonical registry ("docker.io"); cache_name() gives the cache's.
ParsedReference parse_image_reference(std::string_view text);

// The reference as `cache ls` and the cache's keys name it: "registry-1.docker.io/library/alpine:3.19"
// for docker.io/library/alpine:3.19, "quay.io/org/app" for quay.io:443/org/app (key_registry()).
std::string cache_name(const ImageReference& reference);

// What a stored manifest refers to: the config and layers of an image manifest (OCI or Docker
// schema 2; the fsLayers of schema 1), the child manifests of an index / manifest list.
struct ManifestReferences {
  bool parsed = false;  // false: not a manifest we understand (its references are unknown)
  std::vector<Digest> blobs;
  std::vector<Digest> manifests;
};
ManifestReferences manifest_references(std::string_view body);

// ---------------------------------------------------------------- snapshot

struct CachedTag {
  std::string key;
  std::string tag;
  std::string variant;
  Digest digest;
  std::uint64_t size = 0;
  std::string media_type;
  Timestamp created{};
  Timestamp fresh_until{};
  Timestamp last_access{};
};

struct CachedManifest {
  std::string key;
  Digest digest;
  std::uint64_t size = 0;
  std::string media_type;
  Timestamp created{};
  Timestamp last_access{};
};

struct CachedBlob {
  std::string key;
  Digest digest;
  std::uint64_t size = 0;
  Timestamp last_access{};
};

struct CachedRepository {
  std::string name;
  std::vector<CachedTag> tags;
  std::map<std::string, CachedManifest> manifests;  // by digest text
};

struct CachedRegistry {
  std::string name;
  std::map<std::string, CachedRepository> repositories;
  std::map<std::string, CachedBlob> blobs;  // by digest text
};

struct CacheSnapshot {
  std::map<std::string, CachedRegistry> registries;
  // What each stored manifest file refers to, by its digest text (tags and manifests alike).
  std::map<std::string, ManifestReferences> references;
  std::uint64_t total_bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t entries = 0;
  std::size_t foreign_keys = 0;  // keys that are no cache key (not expected)
};

// Reads the whole index and every stored manifest (small files). Missing or unreadable manifest
// files yield unparsed references.
CacheSnapshot take_snapshot(const Index& index, const BlobStore& blobs);

// ---------------------------------------------------------------- ls and stats

// One line of `cache ls`: a tag, or a manifest no tag of its repository points at.
struct ImageRow {
  std::string registry;
  std::string repository;
  std::string tag;  // empty: untagged (pulled by digest, or a child of an index)
  Digest digest;
  std::string media_type;
  std::uint64_t manifest_size = 0;
  // Cached bytes the image uses: the manifest, its cached blobs and child manifests (and theirs).
  // Blobs shared with other images count in each.
  std::uint64_t size = 0;
  std::size_t blobs_cached = 0;
  std::size_t blobs_referenced = 0;  // 0 when the manifest could not be read
  Timestamp last_access{};  // of the manifest
};

// Rows in registry / repository / tag order; `filter` ("registry" or "registry/name", or a
// prefix of it) keeps only matching repositories.
std::vector<ImageRow> list_images(const CacheSnapshot& snapshot, std::string_view filter = {});

struct RegistryStats {
  std::string registry;
  std::size_t repositories = 0;
  std::size_t tags = 0;  // distinct tags (not Accept variants)
  std::size_t manifests = 0;
  std::size_t blobs = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t manifest_bytes = 0;
  std::size_t unreferenced_blobs = 0;  // no cached manifest of the registry refers to them
  std::uint64_t unreferenced_bytes = 0;
};

struct CacheStats {
  std::uint64_t total_bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t entries = 0;
  std::vector<RegistryStats> registries;
};

CacheStats cache_stats(const CacheSnapshot& snapshot);

nlohmann::json to_json(const std::vector<ImageRow>& rows);
nlohmann::json to_json(const CacheStats& stats);

// What the status page lists: the tags the cache holds, most recently fetched or revalidated
// first, from the tag records alone (no manifest is read, so it is cheap enough to render often).
struct CachedTagSummary {
  std::string name;  // "registry/repository:tag"
  Digest digest;     // the variant a client accepting every type gets
  std::string media_type;
  std::size_t variants = 0;
  Timestamp updated{};  // last fetched or revalidated
};
struct CachedTags {
  std::vector<CachedTagSummary> recent;  // at most `limit`
  std::size_t total = 0;
};
CachedTags recent_tags(const Index& index, std::size_t limit);

// ---------------------------------------------------------------- rm

struct RemovalPlan {
  std::string error;              // nothing to do: why (e.g. not cached)
  std::vector<std::string> keys;  // index entries to drop
  std::size_t tags = 0;           // tag entries (Accept variants count separately)
  std::size_t manifests = 0;
  std::size_t blobs = 0;
};

// Decides what removing `reference` means (see the top of this file). Pure.
RemovalPlan plan_removal(const CacheSnapshot& snapshot, const ImageReference& reference,
                         bool tag_only = false);

struct RemovalResult {
  std::size_t entries = 0;
  std::size_t files = 0;  // blob files deleted
  std::uint64_t bytes = 0;
  std::vector<std::string> errors;
};

RemovalResult execute_removal(CacheStore& store, const RemovalPlan& plan);

nlohmann::json to_json(const ImageReference& reference, const RemovalPlan& plan,
                       const RemovalResult* result);

// ---------------------------------------------------------------- gc

struct GcResult {
  ReconcileStats reconciled;
  EvictionStats evicted;
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
  std::uint64_t max_bytes = 0;
  std::size_t dangling_tags = 0;  // tag records whose manifests were all gone
};

// Repairs the cache (files without records and the reverse: reconcile()), then evicts least
// recently used files until the total is at most `max_bytes`, then drops tag records that name
// no stored manifest any more.
GcResult collect_garbage(CacheStore& store, std::uint64_t max_bytes);

nlohmann::json to_json(const GcResult& result);

}  // namespace pt::cache
