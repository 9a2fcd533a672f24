#pragma once
// The cache as the proxy uses it: the index, the blob files and the fills in progress, kept
// consistent with each other.
//
// Everything here is blocking (RocksDB, fsync, directory scans) and thread-safe: call it through
// pt::run_blocking from the I/O threads. The exceptions are the fills themselves (FillWriter::
// append and Fill::read_some), which are made for the I/O threads.
//
// Typical use by the proxy, for a cacheable GET:
//   auto hit = store.lookup(key, now);          // entry + open file, or nullopt
//   decide(request, fresh_until of hit (nullopt without one), now) -> serve / revalidate / fill
//   on a miss: auto [fill, writer] = store.fills().find_or_start(key, ec);
//     writer: publish_response, append..., finish, then commit_fill (on the pool)
//     reader: fill->wait_response, fill->read_some...
//
// Consistency: a blob file is published (renamed into place) before the index entry that points
// at it is written, and an index record is removed before its file is unlinked; both pairs run
// under one lock so a commit and an eviction of the same digest cannot interleave. Hence, after a
// crash, only unindexed files can exist, which reconcile() removes.
#include "cache/blob_store.hpp"
#include "cache/bucket_uses.hpp"
#include "cache/eviction.hpp"
#include "cache/fill_registry.hpp"
#include "cache/index.hpp"
#include "cache/verified_files.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>

namespace pt::cache {

struct CacheSettings {
  std::filesystem::path directory = "/docker_mirror_cache";        // CACHE_DIR
  std::uint64_t max_bytes = 32ull << 30;                           // CACHE_MAX_SIZE
  std::chrono::seconds max_inactive = std::chrono::days(60);       // CACHE_INACTIVE
  // Entries up to this size (manifests) are re-hashed on every lookup, so a corrupted manifest is
  // never served. Larger blobs are only checked for their size; the proxy hashes them while
  // streaming and calls drop_corrupt() on a mismatch.
  std::uint64_t verify_on_lookup_max_bytes = 4ull << 20;
  std::chrono::seconds touch_granularity = Index::kDefaultTouchGranularity;
  // --rebuild-index: start with a new, empty index. The blob files on disk are kept; reconcile()
  // verifies each against its name and indexes it as an orphan ("orphan/<digest>"), which the
  // first lookup of that blob through any registry claims. Manifests and tags, whose keys and
  // headers only the index knew, are fetched again.
  bool rebuild_index = false;
  // REGISTRY_POLICY max_share: registry (as cache keys spell it) -> the fraction of the size cap
  // its files may take (see Index::registry_bytes for what counts). Eviction brings a registry
  // over its share down to it first, then the whole cache down to the cap.
  std::map<std::string, double> registry_shares;
};

struct ReconcileStats {
  std::size_t unindexed_files = 0;  // blob files no entry pointed at
  std::size_t missing_files = 0;    // file records whose file was missing or of the wrong size
  std::size_t junk_files = 0;       // files that are not blobs at all
  std::size_t dangling_entries = 0; // entries without a file record (not expected to happen)
  std::size_t adopted_files = 0;    // --rebuild-index: verified files indexed as orphans
};

class CacheStore {
public:
  // Creates the directories, checks they are writable, opens the index, wipes temporary files.
  // Does not scan: fast for any cache size. Throws std::runtime_error with a message naming the
  // path for anything that should stop the proxy from starting.
  static std::unique_ptr<CacheStore> open(CacheSettings settings);

  const CacheSettings& settings() const noexcept { return settings_; }
  Index& index() noexcept { return *index_; }
  BlobStore& blobs() noexcept { return blobs_; }
  FillRegistry& fills() noexcept { return fills_; }
  // Files already hashed and found intact in this process (see verified_files.hpp).
  VerifiedFiles& verified_files() noexcept { return verified_; }
  // BLOB_STORE: when this replica last used each bucket object (the bucket's LRU).
  BucketUses& bucket_uses() noexcept { return bucket_uses_; }

  struct Hit {
    IndexEntry entry;
    BlobReader reader;
  };

  // The stored response for `key` with its file open, and records the access. An entry whose file
  // is missing, of the wrong size or (when small) not matching its digest is dropped: nullopt.
  std::optional<Hit> lookup(std::string_view key, Timestamp now);

  // The same hit when it needs nothing but memory and one open(): the entry is in the index's
  // memo, its access is recorded recently enough, and its file has the entry's size and (for a
  // small one) was verified in this process. Meant for the I/O threads, so that a hot manifest
  // costs no hop to the blocking pool. nullopt means "call lookup()", not "not cached".
  std::optional<Hit> lookup_memoized(std::string_view key, Timestamp now);

  // The entry alone, on the same conditions but without opening the file: for a HEAD, whose
  // answer needs no byte of it. A file lost or damaged behind our back is found by the next GET,
  // which opens and checks it.
  std::optional<IndexEntry> peek_memoized(std::string_view key, Timestamp now);

  // Makes a completed fill durable and indexes it under `index_key` (default: the fill's key),
  // then evicts down to the size cap. The fill leaves the registry whatever the outcome. Fails
  // with too_large for a blob bigger than the whole cache (it is then served but not kept).
  std::error_code commit_fill(FillWriter& writer, Timestamp now, Timestamp fresh_until,
                              std::string_view index_key = {});

  // Tags (tag_record.hpp). The record alone: its variants are manifest entries, looked up by
  // their manifest_key(). tag_memoized() is for the I/O threads (nullopt: call tag()).
  std::optional<TagRecord> tag(std::string_view key) const { return index_->get_tag(key); }
  std::optional<TagRecord> tag_memoized(std::string_view key) const { return index_->get_tag_memoized(key); }
  // A variant fetched from upstream (its manifest already committed): added to the record, which
  // is fresh until `fresh_until`. `moved`: upstream's tag changed, the older variants go.
  // `head_digest`: the tag's identity when this fetch tells it (see TagRecord::head_digest).
  std::error_code record_tag_variant(std::string_view key, TagVariant variant, Timestamp fresh_until, bool moved,
                                     std::optional<Digest> head_digest);
  // Upstream confirmed the tag (a HEAD answered `head_digest`): fresh again until `fresh_until`.
  std::error_code refresh_tag(std::string_view key, Timestamp now, Timestamp fresh_until, const Digest& head_digest);

  // Indexes another key for content already stored (e.g. a tag's manifest also under its digest).
  std::error_code add_alias(const IndexEntry& entry);

  // Publishes and indexes a file written outside a fill (`cache import` stages every file of an
  // archive before it commits any): `writer` must hold exactly entry.size bytes hashing to
  // entry.digest, else digest_mismatch and nothing changes. Evicts nothing: the caller decides
  // when (evict_to_size()) once everything is in.
  std::error_code commit_file(BlobWriter& writer, const IndexEntry& entry);


  // Drops a file found corrupt (and every entry using it).
  void drop_corrupt(const Digest& digest);

  EvictionStats evict_to_size();
  // The same down to another cap (`cache gc --max-size`, POST /admin/cache/gc?max_size=).
  EvictionStats evict_to_size(std::uint64_t max_bytes);

  // Drops one entry or tag record (cache management: `cache rm`); a file goes when no other
  // entry uses it.
  IndexChange remove_entry(std::string_view key);
  EvictionStats evict_inactive(Timestamp now);

  // Startup repair, meant to run in the background after open(): removes blob files without
  // index records and records without (intact) files. Scans everything: seconds for a big cache.
  ReconcileStats reconcile();

  // Tag entries of a cache written before tag records, converted when it was opened.
  std::size_t migrated_tags() const noexcept { return migrated_tags_; }

  // Files (and their bytes) evicted since start: size cap, inactivity, `cache gc` (for /metrics).
  std::uint64_t evicted_files() const noexcept { return evicted_files_.load(); }
  std::uint64_t evicted_bytes() const noexcept { return evicted_bytes_.load(); }

private:
  CacheStore(CacheSettings settings, std::unique_ptr<Index> index);
  FileRemoval remove_file(const FileRecord& victim);
  // Registries over their share first, then the whole cache, down to `max_bytes`.
  EvictionStats evict(std::uint64_t max_bytes);
  std::uint64_t share_cap(double share, std::uint64_t max_bytes) const;
  bool over_share() const;
  // A blob key whose entry is missing takes over the orphan of its digest, if one was adopted.
  std::optional<IndexEntry> claim_orphan(std::string_view key);
  // reconcile() under --rebuild-index: an unindexed file that hashes to its name becomes an orphan.
  bool adopt_file(const Digest& digest, std::uint64_t size);
  // open(): one entry per tag and Accept header becomes a variant of the tag's record, its
  // manifest kept under its digest. Returns the entries converted.
  std::size_t migrate_legacy_tags();

  CacheSettings settings_;
  std::unique_ptr<Index> index_;
  BlobStore blobs_;
  FillRegistry fills_;
  VerifiedFiles verified_;
  BucketUses bucket_uses_;
  // Serialises "publish file, then index it" against "unindex file, then unlink it".
  std::mutex publish_mutex_;
  std::size_t migrated_tags_ = 0;
  std::atomic<std::uint64_t> evicted_files_{0};
  std::atomic<std::uint64_t> evicted_bytes_{0};
};

}  // namespace pt::cache
