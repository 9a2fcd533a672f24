#include "cache/cache_store.hpp"

#include "cache/cache_error.hpp"
#include "cache/cache_key.hpp"
#include "cache/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/std.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <vector>

namespace pt::cache {
namespace {

// Fails start-up early and clearly, rather than on the first download.
void check_writable(const std::filesystem::path& dir) {
  const auto probe = dir / ".pullthrough-write-test";
  std::error_code error;
  UniqueFd fd(::open(probe.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) {
    error = {errno, std::system_category()};
  } else {
    error = write_all(fd.get(), std::string_view("ok"));
    if (!error) error = sync_file(fd.get());
    fd.reset();
    std::error_code ignored;
    std::filesystem::remove(probe, ignored);
  }
  if (error) {
    throw std::runtime_error(
        fmt::format("cache directory {} is not writable: {}", dir, error.message()));
  }
}

}  // namespace

std::unique_ptr<CacheStore> CacheStore::open(CacheSettings settings) {
  const auto& dir = settings.directory;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cache directory {} cannot be created: {}", dir, ec.message()));
  }
  check_writable(dir);

  const auto index_path = dir / "index";
  if (settings.rebuild_index) {
    // The blob files stay: reconcile() re-adopts those that still hash to their names.
    spdlog::warn("cache: rebuilding the index at {}; blob files will be verified and kept", index_path);
    Index::destroy(index_path);
  }
  auto index = Index::open(index_path, settings.touch_granularity);
  if (!settings.registry_shares.empty()) index->track_registry_bytes();
  auto store = std::unique_ptr<CacheStore>(new CacheStore(std::move(settings), std::move(index)));
  if (const auto cleared = store->blobs_.clear_temp()) {
    spdlog::info("cache: removed {} unfinished download(s)", cleared);
  }
  store->migrated_tags_ = store->migrate_legacy_tags();
  return store;
}

CacheStore::CacheStore(CacheSettings settings, std::unique_ptr<Index> index)
    : settings_(std::move(settings)), index_(std::move(index)), blobs_(settings_.directory),
      fills_(blobs_), bucket_uses_(*index_) {}

std::optional<CacheStore::Hit> CacheStore::lookup(std::string_view key, Timestamp now) {
  auto entry = index_->get(key);
  if (!entry) entry = claim_orphan(key);
  if (!entry) return std::nullopt;
  std::error_code ec;
  auto reader = blobs_.open(entry->digest, ec);
  if (!reader) {
    // A missing file is a broken entry; other errors (out of descriptors) are transient.
    if (ec == std::errc::no_such_file_or_directory) {
      std::lock_guard lock(publish_mutex_);
      // Evicted since get()? Then it is gone from the index already, or was stored anew.
      if (!blobs_.contains(entry->digest) && index_->remove_file(entry->digest).removed) {
        spdlog::warn("cache: blob {} of {} is missing; dropped it", entry->digest.str(), key);
      }
    }
    return std::nullopt;
  }
  const bool small = entry->size <= settings_.verify_on_lookup_max_bytes;
  const bool must_hash = small && !verified_.contains(*reader, entry->digest);
  const bool corrupt = reader->size() != entry->size || (must_hash && verify_content(*reader, entry->digest));
  if (must_hash && !corrupt) verified_.insert(*reader, entry->digest);
  if (corrupt) {
    spdlog::warn("cache: blob {} of {} is corrupt; dropping it", entry->digest.str(), key);
    drop_corrupt(entry->digest);
    return std::nullopt;
  }
  if (auto error = index_->touch(*entry, now)) {
    spdlog::debug("cache: cannot record access to {}: {}", key, error.message());
  }
  return Hit{std::move(*entry), std::move(*reader)};
}

std::optional<IndexEntry> CacheStore::peek_memoized(std::string_view key, Timestamp now) {
  auto entry = index_->get_memoized(key);
  if (!entry || index_->access_due(*entry, now)) return std::nullopt;
  return entry;
}

std::optional<CacheStore::Hit> CacheStore::lookup_memoized(std::string_view key, Timestamp now) {
  auto entry = peek_memoized(key, now);
  if (!entry) return std::nullopt;
  std::error_code ec;
  auto reader = blobs_.open(entry->digest, ec);
  if (!reader || reader->size() != entry->size) return std::nullopt;  // lookup() sorts it out
  const bool small = entry->size <= settings_.verify_on_lookup_max_bytes;
  if (small && !verified_.contains(*reader, entry->digest)) return std::nullopt;
  return Hit{std::move(*entry), std::move(*reader)};
}

std::error_code CacheStore::commit_fill(FillWriter& writer, Timestamp now, Timestamp fresh_until,
                                        std::string_view index_key) {
  struct SettleOnExit {
    FillWriter& writer;
    ~SettleOnExit() { writer.settle(); }
  } settle_on_exit{writer};

  const auto digest = writer.fill().digest();
  if (!digest) return make_error_code(CacheErrc::fill_failed);
  if (writer.size() > settings_.max_bytes) return make_error_code(CacheErrc::too_large);
  if (auto error = writer.sync()) return error;  // the slow part, outside the lock

  const auto& response = writer.response();
  const IndexEntry entry{.key = index_key.empty() ? writer.fill().key() : std::string(index_key),
                         .digest = *digest,
                         .size = writer.size(),
                         .media_type = response.media_type,
                         .headers = response.headers,
                         .created = now,
                         .fresh_until = fresh_until};
  {
    std::lock_guard lock(publish_mutex_);
    if (auto error = writer.publish()) {
      if (!index_->file(*digest)) blobs_.remove(*digest);  // renamed, but not made durable
      return error;
    }
    const auto change = index_->put(entry);
    if (change.error) {
      if (!index_->file(*digest)) blobs_.remove(*digest);  // leave no unindexed file behind
      return change.error;
    }
    if (change.released_file) blobs_.remove(*change.released_file);
    // The file was hashed as it was written: its first hit need not hash it again (the rename
    // replaced any older file under the name, and eviction waits for this lock).
    std::error_code ignored;
    if (auto reader = blobs_.open(*digest, ignored)) verified_.insert(*reader, *digest);
  }
  if (index_->total_bytes() > settings_.max_bytes || over_share()) evict_to_size();
  return {};
}

std::error_code CacheStore::add_alias(const IndexEntry& entry) {
  std::lock_guard lock(publish_mutex_);
  if (!index_->file(entry.digest)) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  const auto change = index_->put(entry);
  if (change.released_file) blobs_.remove(*change.released_file);
  return change.error;
}

std::error_code CacheStore::commit_file(BlobWriter& writer, const IndexEntry& entry) {
  if (writer.finish() != entry.digest || writer.bytes_written() != entry.size) {
    return make_error_code(CacheErrc::digest_mismatch);
  }
  if (auto error = writer.sync()) return error;  // the slow part, outside the lock
  std::lock_guard lock(publish_mutex_);
  if (auto error = writer.publish(entry.digest)) {
    if (!index_->file(entry.digest)) blobs_.remove(entry.digest);  // renamed, but not made durable
    return error;
  }
  const auto change = index_->put(entry);
  if (change.error) {
    if (!index_->file(entry.digest)) blobs_.remove(entry.digest);  // leave no unindexed file behind
    return change.error;
  }
  if (change.released_file) blobs_.remove(*change.released_file);
  std::error_code ignored;  // hashed as it was staged: its first hit need not hash it again
  if (auto reader = blobs_.open(entry.digest, ignored)) verified_.insert(*reader, entry.digest);
  return {};
}

std::error_code CacheStore::record_tag_variant(std::string_view key, TagVariant variant, Timestamp fresh_until,
                                               bool moved, std::optional<Digest> head_digest) {
  return index_->update_tag(key, [&](std::optional<TagRecord>& record) {
    if (!record) record.emplace();
    if (moved) record->head_digest.reset();
    if (head_digest) record->head_digest = std::move(head_digest);
    record->fresh_until = fresh_until;
    merge_variant(*record, std::move(variant), moved);
  });
}

std::error_code CacheStore::refresh_tag(std::string_view key, Timestamp now, Timestamp fresh_until,
                                        const Digest& head_digest) {
  return index_->update_tag(key, [&](std::optional<TagRecord>& record) {
    if (!record) return;  // removed meanwhile (`cache rm`): stays removed
    record->head_digest = head_digest;
    record->revalidated = now;
    record->fresh_until = fresh_until;
  });
}

std::size_t CacheStore::migrate_legacy_tags() {
  std::vector<IndexEntry> legacy;
  index_->for_each_entry([&](const IndexEntry& entry) {
    if (is_legacy_tag_key(entry.key)) legacy.push_back(entry);
    return true;
  });
  std::size_t converted = 0;
  for (const auto& entry : legacy) {
    // "tag/<registry>/<name>:<tag>#<variant>": the record's key is what precedes '#', the
    // manifest's key the same registry and name with the digest.
    const std::string_view key = entry.key;
    const auto tag_key = key.substr(0, key.find('#'));
    const auto colon = tag_key.rfind(':');
    const auto slash = tag_key.find('/', 4);
    std::error_code error;
    if (colon == std::string_view::npos || slash == std::string_view::npos || colon < slash) {
      error = std::make_error_code(std::errc::invalid_argument);
    } else {
      const auto manifest = fmt::format("manifest/{}@{}", tag_key.substr(4, colon - 4), entry.digest.str());
      if (!index_->get(manifest)) {
        IndexEntry alias = entry;
        alias.key = manifest;
        alias.fresh_until = kForever;
        error = index_->put(alias).error;
      }
      if (!error) {
        error = index_->update_tag(tag_key, [&](std::optional<TagRecord>& record) {
          if (!record) record.emplace();
          record->fresh_until = std::max(record->fresh_until, entry.fresh_until);
          merge_variant(*record,
                        {.digest = entry.digest, .media_type = entry.media_type, .size = entry.size,
                         .fetched = entry.created},
                        false);
        });
      }
    }
    if (error) {
      spdlog::warn("cache: cannot convert the old tag entry {}: {}; dropping it (fetched again when asked)",
                   entry.key, error.message());
    }
    // The manifest entry now holds the file, so this releases nothing unless the conversion failed.
    const auto change = index_->remove(entry.key);
    if (change.released_file) blobs_.remove(*change.released_file);
    if (!error) ++converted;
  }
  if (!legacy.empty()) {
    spdlog::info("cache: converted {} tag entr{} of an older release into tag records ({} dropped)", converted,
                 converted == 1 ? "y" : "ies", legacy.size() - converted);
  }
  return converted;
}

void CacheStore::drop_corrupt(const Digest& digest) {
  std::lock_guard lock(publish_mutex_);
  const auto removal = index_->remove_file(digest);
  if (!removal.error) blobs_.remove(digest);
}

FileRemoval CacheStore::remove_file(const FileRecord& victim) {
  std::lock_guard lock(publish_mutex_);
  auto removal = index_->remove_file(victim.digest, victim.last_access);
  if (removal.removed) {
    evicted_files_.fetch_add(1, std::memory_order_relaxed);
    evicted_bytes_.fetch_add(removal.bytes, std::memory_order_relaxed);
    if (auto error = blobs_.remove(victim.digest)) {
      spdlog::warn("cache: cannot delete blob {}: {}", victim.digest.str(), error.message());
    }
  }
  return removal;
}

std::uint64_t CacheStore::share_cap(double share, std::uint64_t max_bytes) const {
  return static_cast<std::uint64_t>(share * static_cast<double>(max_bytes));
}

bool CacheStore::over_share() const {
  for (const auto& [registry, share] : settings_.registry_shares) {
    if (index_->registry_bytes(registry) > share_cap(share, settings_.max_bytes)) return true;
  }
  return false;
}

EvictionStats CacheStore::evict(std::uint64_t max_bytes) {
  const auto remove = [this](const FileRecord& victim) { return remove_file(victim); };
  EvictionStats stats;
  for (const auto& [registry, share] : settings_.registry_shares) {
    const auto cap = share_cap(share, max_bytes);
    if (index_->registry_bytes(registry) <= cap) continue;
    const auto evicted = pt::cache::evict_registry_to_size(*index_, registry, cap, remove);
    if (evicted.files > 0) {
      spdlog::info("cache: evicted {} file(s), {} entries, {} bytes of {} to keep it within its share ({:g}% of {} "
                   "bytes, REGISTRY_POLICY max_share)",
                   evicted.files, evicted.entries, evicted.bytes, registry, share * 100, max_bytes);
    }
    stats += evicted;
  }
  const auto global = pt::cache::evict_to_size(*index_, max_bytes, remove);
  if (global.files > 0 && max_bytes == settings_.max_bytes) {
    spdlog::info("cache: evicted {} file(s), {} entries, {} bytes to stay under the size cap",
                 global.files, global.entries, global.bytes);
  }
  stats += global;
  return stats;
}

EvictionStats CacheStore::evict_to_size() { return evict(settings_.max_bytes); }

EvictionStats CacheStore::evict_to_size(std::uint64_t max_bytes) { return evict(max_bytes); }

IndexChange CacheStore::remove_entry(std::string_view key) {
  if (key.starts_with("tag/") && !is_legacy_tag_key(key)) return {.error = index_->remove_tag(key)};
  std::lock_guard lock(publish_mutex_);
  auto change = index_->remove(key);
  if (change.released_file) {
    if (auto error = blobs_.remove(*change.released_file)) {
      spdlog::warn("cache: cannot delete blob {}: {}", change.released_file->str(), error.message());
    }
  }
  return change;
}

EvictionStats CacheStore::evict_inactive(Timestamp now) {
  const auto stats =
      pt::cache::evict_inactive(*index_, now, settings_.max_inactive,
                                [this](const FileRecord& victim) { return remove_file(victim); });
  if (stats.files > 0) {
    spdlog::info("cache: evicted {} inactive file(s), {} entries, {} bytes", stats.files,
                 stats.entries, stats.bytes);
  }
  return stats;
}

ReconcileStats CacheStore::reconcile() {
  ReconcileStats stats;
  const auto file_is_intact = [&](const FileRecord& record) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(blobs_.blob_path(record.digest), ec);
    return !ec && size == record.size;
  };

  std::vector<FileRecord> suspects;
  index_->for_each_file([&](const FileRecord& record) {
    if (!file_is_intact(record)) suspects.push_back(record);
    return true;
  });
  for (const auto& record : suspects) {
    std::lock_guard lock(publish_mutex_);
    if (file_is_intact(record)) continue;  // re-published meanwhile
    if (index_->remove_file(record.digest, record.last_access).removed) {
      blobs_.remove(record.digest);
      ++stats.missing_files;
    }
  }

  stats.junk_files = blobs_.for_each_blob([&](const Digest& digest, std::uint64_t size) {
    std::lock_guard lock(publish_mutex_);
    if (index_->file(digest)) return;
    if (settings_.rebuild_index && adopt_file(digest, size)) {
      ++stats.adopted_files;
      return;
    }
    blobs_.remove(digest);
    ++stats.unindexed_files;
  });

  std::vector<std::string> dangling;
  index_->for_each_entry([&](const IndexEntry& entry) {
    if (!index_->file(entry.digest)) dangling.push_back(entry.key);
    return true;
  });
  for (const auto& key : dangling) {
    std::lock_guard lock(publish_mutex_);
    const auto entry = index_->get(key);
    if (!entry && !index_->remove(key).error) ++stats.dangling_entries;
  }

  if (stats.adopted_files > 0) {
    spdlog::info("cache: {} blob file(s) verified and kept for the rebuilt index", stats.adopted_files);
  }
  if (stats.unindexed_files + stats.missing_files + stats.junk_files + stats.dangling_entries > 0) {
    spdlog::info("cache: reconciled: {} unindexed file(s), {} missing file(s), {} junk file(s), "
                 "{} dangling entries",
                 stats.unindexed_files, stats.missing_files, stats.junk_files,
                 stats.dangling_entries);
  }
  return stats;
}

namespace {

std::string orphan_key(const Digest& digest) { return "orphan/" + digest.str(); }

}  // namespace

bool CacheStore::adopt_file(const Digest& digest, std::uint64_t size) {
  std::error_code ec;
  auto reader = blobs_.open(digest, ec);
  if (!reader || reader->size() != size || verify_content(*reader, digest)) return false;
  const auto now = now_timestamp();
  const IndexEntry orphan{.key = orphan_key(digest),
                          .digest = digest,
                          .size = size,
                          .media_type = "application/octet-stream",
                          .created = now,
                          .fresh_until = kForever};
  return !index_->put(orphan).error;
}

std::optional<IndexEntry> CacheStore::claim_orphan(std::string_view key) {
  // Only blobs: a blob is the same bytes whatever the registry; manifests need headers we lost.
  if (!key.starts_with("blob/")) return std::nullopt;
  const auto digest = Digest::parse(key.substr(key.rfind('/') + 1));
  if (!digest) return std::nullopt;
  std::lock_guard lock(publish_mutex_);
  auto entry = index_->get(orphan_key(*digest));
  if (!entry) return std::nullopt;
  entry->key = std::string(key);
  if (index_->put(*entry).error) return std::nullopt;
  index_->remove(orphan_key(*digest));  // the file stays: the claimed entry references it
  spdlog::info("cache: {} re-adopted from the files kept by --rebuild-index", key);
  return entry;
}

}  // namespace pt::cache
