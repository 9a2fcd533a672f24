#pragma once
// The persistent index of the cache, in RocksDB (blob bytes live in files, see BlobStore).
//
// Layout, one column family each:
//   default   "meta/totals" -> total bytes, file count, entry count (fixed binary)
//             "upload/<id>" -> a note: content committed here and not yet known to be in the
//             BLOB_STORE bucket (its outbox, so an upload cut by a crash or an outage is resumed)
//             "bucket_used/<bucket object key>" -> big-endian seconds: BLOB_STORE's last uses
//   entries   cache key -> IndexEntry (JSON)
//   files     digest -> FileRecord {size, last access, reference count}
//   refs      digest + cache key -> "" (which entries use a file, to drop them with it)
//   lru       big-endian last access + digest -> "" (least recently used files first)
//   tags      tag key -> TagRecord (JSON): what a tag points at. Records reference no file (their
//             variants are manifest entries, which do), so they are outside the totals; a variant
//             whose manifest was evicted is simply fetched again.
// Every change is one atomic WriteBatch that also rewrites the totals, so opening needs no scan
// and the totals can never drift from the records, even across kill -9.
//
// Accounting is per blob file: bytes are counted when the first entry references a file and
// released when the last one goes, so entries sharing a file never double count. Eviction works
// on files (oldest_files + remove_file), dropping every entry that points at the file.
//
// All methods are blocking and thread-safe. Writes are serialised by a mutex (each is a small
// read-modify-write); reads go to RocksDB, except for entries found decoded in the memo
// (entry_memo.hpp). Writes are not fsynced: after a power cut a
// recent change may be lost, which leaves an unindexed file (cleaned by reconcile) or an entry
// whose file is gone (detected when served), never a partial entry.
#include "cache/entry_memo.hpp"
#include "cache/index_entry.hpp"
#include "cache/tag_record.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace pt::cache {

// Result of a change that may leave a blob file without any entry.
struct IndexChange {
  std::error_code error;
  std::optional<Digest> released_file;  // no entry references it any more: the caller unlinks it
};

struct FileRemoval {
  std::error_code error;
  bool removed = false;
  std::uint64_t bytes = 0;
  std::size_t entries = 0;
};

class Index {
public:
  // Access times closer together than this are not rewritten, so a busy blob costs no writes.
  static constexpr std::chrono::seconds kDefaultTouchGranularity{60};

  // Creates the index if missing. Throws std::runtime_error naming `path` when it cannot be
  // opened; a corrupt index also gets the hint to restart with --rebuild-index.
  static std::unique_ptr<Index> open(const std::filesystem::path& path,
                                     std::chrono::seconds touch_granularity =
                                         kDefaultTouchGranularity);

  // A read-only view of an index another process may have open for writing (the running proxy
  // holds RocksDB's lock): a RocksDB secondary instance, caught up at open. Its write methods
  // fail. Throws std::runtime_error naming `path` when there is no index there.
  static std::unique_ptr<Index> open_reader(const std::filesystem::path& path);

  // Deletes the index at `path` (for --rebuild-index). Throws std::runtime_error on failure.
  static void destroy(const std::filesystem::path& path);

  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Decoded entries kept in memory (per process; the reader of another process's index has none).
  static constexpr std::size_t kMemoCapacity = 4096;

  std::optional<IndexEntry> get(std::string_view key) const;
  std::optional<FileRecord> file(const Digest& digest) const;

  // The entry if it is in the memo, without touching RocksDB: cheap enough for the I/O threads.
  // Its last_access may lag behind the file's (see entry_memo.hpp).
  std::optional<IndexEntry> get_memoized(std::string_view key) const { return memo_.find(key); }

  // Stores `entry`, replacing any entry under the same key. The entry's file counts as accessed at
  // entry.created. If the replaced entry was the last user of another file, that file is released.
  IndexChange put(const IndexEntry& entry);

  // Whether a read of the entry's file at `now` is worth recording: its last access (as known to
  // the entry) is older than the touch granularity.
  bool access_due(const IndexEntry& entry, Timestamp now) const noexcept {
    return now - entry.last_access >= touch_granularity_;
  }
  // Records a read of the entry's file at `now`; a no-op (no read, no write) unless access_due.
  std::error_code touch(const IndexEntry& entry, Timestamp now);


  IndexChange remove(std::string_view key);

  // Drops a file record and every entry referencing it. With `only_if_last_access`, nothing
  // happens unless the record is still at that access time: a file read since eviction chose it
  // is spared.
  FileRemoval remove_file(const Digest& digest,
                          std::optional<Timestamp> only_if_last_access = std::nullopt);

  // Up to `count` files, least recently used first.
  std::vector<FileRecord> oldest_files(std::size_t count) const;

  // Files least recently used first, from a snapshot of the order taken at the call; return false
  // from the callback to stop. Changes made meanwhile (evictions by the callback) are safe.
  void for_each_file_by_age(const std::function<bool(const FileRecord&)>& visit) const;

  // Bytes per registry, for REGISTRY_POLICY's max_share. A file counts in full for every registry
  // that has an entry using it ("blob/<registry>/...", "manifest/<registry>/..."; an orphan of
  // --rebuild-index for none). Off until track_registry_bytes(), which scans the file references
  // once; every change keeps it up to date after that (two short scans of one file's references).
  void track_registry_bytes();
  std::uint64_t registry_bytes(std::string_view registry) const;
  // The registries whose entries use the file (empty: none, or no such file).
  std::set<std::string> file_registries(const Digest& digest) const;

  std::uint64_t total_bytes() const noexcept { return total_bytes_.load(); }
  std::uint64_t file_count() const noexcept { return file_count_.load(); }
  std::uint64_t entry_count() const noexcept { return entry_count_.load(); }

  // Full scans, for `cache ls` and reconcile. Return false from the callback to stop.
  void for_each_entry(const std::function<bool(const IndexEntry&)>& visit) const;
  void for_each_file(const std::function<bool(const FileRecord&)>& visit) const;

  // Tag records. Reads are memoized (a tag asked by a storm of HEADs costs no RocksDB read);
  // writes go through the memo.
  std::optional<TagRecord> get_tag(std::string_view key) const;
  std::optional<TagRecord> get_tag_memoized(std::string_view key) const;
  // Read-modify-write of a record under the write lock, so concurrent fills of two variants of a
  // tag both land. `change` gets the stored record (nullopt: none) and may reset it to delete.
  std::error_code update_tag(std::string_view key, const std::function<void(std::optional<TagRecord>&)>& change);
  std::error_code remove_tag(std::string_view key);
  void for_each_tag(const std::function<bool(const TagRecord&)>& visit) const;

  // BLOB_STORE's outbox: what is still to be uploaded, by an id of the uploader's choosing (a
  // digest, a tag record's key), with a note (a media type). Outside the totals: it names
  // content, it holds none. for_each_pending_upload visits in id order; return false to stop.
  std::error_code add_pending_upload(std::string_view id, std::string_view note);
  std::error_code remove_pending_upload(std::string_view id);
  void for_each_pending_upload(const std::function<bool(std::string_view id, std::string_view note)>& visit) const;
  // BLOB_STORE: when this replica last served or stored a bucket object, by its bucket key
  // ("blobs/sha256/<hex>", "tags/<hex>"), the prefix of the store taken off. With PEERS the owner
  // of a key sees every use of it, so its record is the cluster's LRU for the bucket (see
  // bucket_uses.hpp). Kept in the default family under "bucket_used/", outside the totals.
  std::optional<Timestamp> bucket_last_used(std::string_view object_key) const;
  std::error_code put_bucket_last_used(std::string_view object_key, Timestamp when);
  std::error_code forget_bucket_last_used(std::string_view object_key);
  // Every record, in key order; return false from the callback to stop.
  void for_each_bucket_last_used(const std::function<bool(std::string_view object_key, Timestamp when)>& visit) const;

private:
  // The small records of the default family under `prefix` ("upload/", "bucket_used/"): one
  // mechanism for the outbox and the last uses, outside the totals. Writes fail on a reader.
  std::optional<std::string> get_note(std::string_view prefix, std::string_view key) const;
  std::error_code put_note(std::string_view prefix, std::string_view key, std::string_view value);
  std::error_code remove_note(std::string_view prefix, std::string_view key);
  void for_each_note(std::string_view prefix,
                     const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  struct Handles;
  struct Totals {
    std::uint64_t bytes = 0;
    std::uint64_t files = 0;
    std::uint64_t entries = 0;
  };
  Index(rocksdb::DB* db, std::unique_ptr<Handles> handles, Totals totals,
        std::chrono::seconds touch_granularity, std::size_t memo_capacity);

  std::optional<IndexEntry> read_entry(std::string_view key) const;
  Totals totals() const noexcept;
  // Adds to `batch` the drop of `key`'s reference to `digest`; the last reference releases the
  // file.
  void release_reference(rocksdb::WriteBatch& batch, const Digest& digest, std::string_view key,
                         Totals& totals, IndexChange& change) const;
  std::error_code commit(rocksdb::WriteBatch& batch, const Totals& totals);
  // The registry use of the files a change touches, taken before it (under the write lock) and
  // settled after it: a registry that gained or lost its last entry on a file gains or loses the
  // file's size. No-ops unless tracking.
  struct UsageProbe {
    Digest digest;
    std::uint64_t size = 0;
    std::set<std::string> before;
  };
  std::optional<UsageProbe> probe_usage(const Digest& digest, std::uint64_t size_if_new) const;
  void settle_usage(const std::optional<UsageProbe>& probe);

  rocksdb::DB* db_;
  std::unique_ptr<Handles> cf_;
  std::filesystem::path reader_dir_;  // open_reader's private directory (empty: the writer)
  std::chrono::seconds touch_granularity_;
  std::mutex write_mutex_;
  mutable EntryMemo memo_;
  // Decoded tag records; cleared when full (tags are few next to blobs, and a miss is one read).
  static constexpr std::size_t kTagMemoCapacity = 4096;
  mutable std::mutex tag_memo_mutex_;
  mutable std::unordered_map<std::string, TagRecord> tag_memo_;
  // Bumped by every tag write: a read that raced with one does not memoize what it read.
  std::uint64_t tag_generation_ = 0;
  std::atomic<bool> tracking_registries_{false};
  mutable std::mutex registry_bytes_mutex_;  // written under write_mutex_ too
  std::unordered_map<std::string, std::uint64_t> registry_bytes_;
  std::atomic<std::uint64_t> total_bytes_{0};
  std::atomic<std::uint64_t> file_count_{0};
  std::atomic<std::uint64_t> entry_count_{0};
};

}  // namespace pt::cache
