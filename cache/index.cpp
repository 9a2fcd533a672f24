#include "cache/index.hpp"

#include <fmt/format.h>
#include <fmt/std.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>

namespace pt::cache {
namespace {

constexpr std::string_view kTotalsKey = "meta/totals";
// In the default family next to the totals: a family of their own would need a migration for
// readers of older indexes (a secondary instance cannot create one), and they are few and small.
constexpr std::string_view kBucketUsedPrefix = "bucket_used/";
constexpr std::string_view kPendingUploadPrefix = "upload/";
constexpr std::size_t kDigestLength = 71;  // "sha256:" + 64 hex
// After kill -9, opening replays the write-ahead log: bounding it (by flushing memtables to SST
// files sooner) keeps that replay to a fraction of a second.
constexpr std::uint64_t kWalLimitBytes = 16ull << 20;
constexpr std::size_t kMemtableBytes = 8ull << 20;

rocksdb::Slice slice(std::string_view text) { return {text.data(), text.size()}; }

std::error_code to_error(const rocksdb::Status& status) {
  if (status.ok()) return {};
  spdlog::warn("cache index: {}", status.ToString());
  if (status.IsNoSpace()) return std::make_error_code(std::errc::no_space_on_device);
  return std::make_error_code(std::errc::io_error);
}

std::string encode_totals(std::uint64_t bytes, std::uint64_t files, std::uint64_t entries) {
  std::string out;
  for (std::uint64_t value : {bytes, files, entries}) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  }
  return out;
}

std::uint64_t decode_u64(std::string_view in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

[[noreturn]] void throw_open_error(const std::filesystem::path& path,
                                   const rocksdb::Status& status) {
  if (status.IsCorruption()) {
    throw std::runtime_error(fmt::format(
        "cache index {} is corrupt ({}); restart with --rebuild-index to start a fresh index "
        "(blob files that still match their digests are kept; manifests are fetched again)",
        path, status.ToString()));
  }
  throw std::runtime_error(fmt::format("cannot open cache index {}: {}", path, status.ToString()));
}

// The totals record (bytes, files, entries): zeros for a new index (none stored yet); a record of
// the wrong size is corruption.
rocksdb::Status read_totals(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta, std::array<std::uint64_t, 3>& out) {
  std::string value;
  const auto read = db->Get(rocksdb::ReadOptions(), meta, slice(kTotalsKey), &value);
  if (read.IsNotFound()) return rocksdb::Status::OK();
  if (!read.ok()) return read;
  if (value.size() != 24) return rocksdb::Status::Corruption("bad totals record");
  out = {decode_u64(value), decode_u64(value.substr(8)), decode_u64(value.substr(16))};
  return read;
}

// The index's column families (the default one holds the totals), all with the same options.
std::vector<rocksdb::ColumnFamilyDescriptor> column_families(const rocksdb::Options& options) {
  const rocksdb::ColumnFamilyOptions cf_options(options);
  return {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {"entries", cf_options},
      {"files", cf_options},
      {"refs", cf_options},
      {"lru", cf_options},
      {"tags", cf_options},
  };
}

// "blob/<registry>/...", "manifest/<registry>/...", "tag/<registry>/...": the registry of a key;
// empty for keys of no registry ("orphan/<digest>").
std::string_view registry_of_key(std::string_view key) {
  const auto first = key.find('/');
  if (first == std::string_view::npos || key.substr(0, first) == "orphan") return {};
  const auto second = key.find('/', first + 1);
  if (second == std::string_view::npos) return {};
  return key.substr(first + 1, second - first - 1);
}

}  // namespace

struct Index::Handles {
  std::vector<rocksdb::ColumnFamilyHandle*> all;  // in the order of kColumnFamilies
  rocksdb::ColumnFamilyHandle* meta() const { return all[0]; }
  rocksdb::ColumnFamilyHandle* entries() const { return all[1]; }
  rocksdb::ColumnFamilyHandle* files() const { return all[2]; }
  rocksdb::ColumnFamilyHandle* refs() const { return all[3]; }
  rocksdb::ColumnFamilyHandle* lru() const { return all[4]; }
  // Null in a reader of an index written before tag records (a secondary cannot create it).
  rocksdb::ColumnFamilyHandle* tags() const { return all.size() > 5 ? all[5] : nullptr; }
};

std::unique_ptr<Index> Index::open(const std::filesystem::path& path,
                                   std::chrono::seconds touch_granularity) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot create cache index directory {}: {}", path,
                                         ec.message()));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  options.max_total_wal_size = kWalLimitBytes;
  options.write_buffer_size = kMemtableBytes;
  // Replayed data stays in memory after a crash instead of being flushed before open returns.
  options.avoid_flush_during_recovery = true;

  const auto families = column_families(options);
  auto handles = std::make_unique<Handles>();
  rocksdb::DB* db = nullptr;
  const auto status =
      rocksdb::DB::Open(rocksdb::DBOptions(options), path.string(), families, &handles->all, &db);
  if (!status.ok()) throw_open_error(path, status);

  std::array<std::uint64_t, 3> counts{};
  const auto read = read_totals(db, handles->meta(), counts);
  if (!read.ok()) {
    for (auto* handle : handles->all) db->DestroyColumnFamilyHandle(handle);
    delete db;
    throw_open_error(path, read);
  }
  const Totals totals{counts[0], counts[1], counts[2]};
  return std::unique_ptr<Index>(new Index(db, std::move(handles), totals, touch_granularity, kMemoCapacity));
}

std::unique_ptr<Index> Index::open_reader(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path / "CURRENT", ec)) {
    throw std::runtime_error(fmt::format("no cache index at {}", path));
  }
  // A secondary instance keeps its own info log: a private directory, removed on close.
  auto pattern = (std::filesystem::temp_directory_path() / "pullthrough-index-reader-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(fmt::format("cannot create a temporary directory in {}: {}",
                                         std::filesystem::temp_directory_path(),
                                         std::generic_category().message(errno)));
  }
  const std::filesystem::path reader_dir = pattern;
  const auto fail = [&](const rocksdb::Status& status) {
    std::filesystem::remove_all(reader_dir, ec);
    throw_open_error(path, status);
  };
  rocksdb::Options options;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.max_open_files = -1;  // required by secondary instances
  auto families = column_families(options);
  // An index last written by a release before tag records has no "tags" family; a secondary
  // cannot create one, so it reads without it (no tags).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), path.string(), &existing).ok() &&
      std::find(existing.begin(), existing.end(), "tags") == existing.end()) {
    families.pop_back();
  }
  auto handles = std::make_unique<Handles>();
  rocksdb::DB* db = nullptr;
  auto status = rocksdb::DB::OpenAsSecondary(rocksdb::DBOptions(options), path.string(),
                                             reader_dir.string(), families, &handles->all, &db);
  if (!status.ok()) fail(status);
  status = db->TryCatchUpWithPrimary();
  std::array<std::uint64_t, 3> counts{};
  const auto read = status.ok() ? read_totals(db, handles->meta(), counts) : status;
  if (!read.ok()) {
    for (auto* handle : handles->all) db->DestroyColumnFamilyHandle(handle);
    delete db;
    fail(read);
  }
  const Totals totals{counts[0], counts[1], counts[2]};
  auto index = std::unique_ptr<Index>(
      new Index(db, std::move(handles), totals, kDefaultTouchGranularity, 0));
  index->reader_dir_ = reader_dir;
  return index;
}

void Index::destroy(const std::filesystem::path& path) {
  const auto status = rocksdb::DestroyDB(path.string(), rocksdb::Options());
  if (!status.ok()) {
    throw std::runtime_error(
        fmt::format("cannot delete cache index {}: {}", path, status.ToString()));
  }
}

Index::Index(rocksdb::DB* db, std::unique_ptr<Handles> handles, Totals totals,
             std::chrono::seconds touch_granularity, std::size_t memo_capacity)
    : db_(db), cf_(std::move(handles)), touch_granularity_(touch_granularity), memo_(memo_capacity),
      total_bytes_(totals.bytes), file_count_(totals.files), entry_count_(totals.entries) {}

Index::~Index() {
  // Flushing the memtables means the next start reads a few SST files instead of replaying the
  // write-ahead log.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (reader_dir_.empty()) {
    if (auto status = db_->Flush(flush, cf_->all); !status.ok()) {
      spdlog::warn("cache index: flush on close failed: {}", status.ToString());
    }
  }
  for (auto* handle : cf_->all) db_->DestroyColumnFamilyHandle(handle);
  db_->Close();
  delete db_;
  if (!reader_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(reader_dir_, ignored);
  }
}

Index::Totals Index::totals() const noexcept {
  return {total_bytes_.load(), file_count_.load(), entry_count_.load()};
}

std::optional<IndexEntry> Index::read_entry(std::string_view key) const {
  if (auto memoized = memo_.find(key)) return memoized;
  const auto generation = memo_.generation();
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), cf_->entries(), slice(key), &value).ok()) {
    return std::nullopt;
  }
  auto entry = decode_entry(key, value);
  if (entry) memo_.remember(*entry, generation);
  return entry;
}

std::optional<IndexEntry> Index::get(std::string_view key) const {
  auto entry = read_entry(key);
  if (!entry) return std::nullopt;
  const auto record = file(entry->digest);
  if (!record) return std::nullopt;  // racing with the file's removal: as good as gone
  entry->last_access = record->last_access;
  memo_.note_access(key, record->last_access);
  return entry;
}

std::optional<FileRecord> Index::file(const Digest& digest) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), cf_->files(), slice(digest.str()), &value).ok()) {
    return std::nullopt;
  }
  return decode_file_record(digest, value);
}

std::error_code Index::commit(rocksdb::WriteBatch& batch, const Totals& totals) {
  batch.Put(cf_->meta(), slice(kTotalsKey),
            encode_totals(totals.bytes, totals.files, totals.entries));
  if (auto error = to_error(db_->Write(rocksdb::WriteOptions(), &batch))) return error;
  total_bytes_ = totals.bytes;
  file_count_ = totals.files;
  entry_count_ = totals.entries;
  return {};
}

void Index::release_reference(rocksdb::WriteBatch& batch, const Digest& digest,
                              std::string_view key, Totals& totals, IndexChange& change) const {
  batch.Delete(cf_->refs(), digest.str() + std::string(key));
  const auto record = file(digest);
  if (!record) return;
  if (record->references > 1) {
    auto updated = *record;
    --updated.references;
    batch.Put(cf_->files(), slice(digest.str()), encode_file_record(updated));
    return;
  }
  batch.Delete(cf_->files(), slice(digest.str()));
  batch.Delete(cf_->lru(), lru_key(record->last_access, digest));
  totals.bytes -= std::min(totals.bytes, record->size);
  totals.files -= std::min<std::uint64_t>(totals.files, 1);
  change.released_file = digest;
}

IndexChange Index::put(const IndexEntry& entry) {
  std::lock_guard lock(write_mutex_);
  IndexChange change;
  auto totals = this->totals();
  rocksdb::WriteBatch batch;
  const auto& digest = entry.digest;
  const auto previous = read_entry(entry.key);
  const bool new_reference = !previous || previous->digest != digest;
  const auto usage = new_reference ? probe_usage(digest, entry.size) : std::nullopt;
  const auto previous_usage = previous && new_reference ? probe_usage(previous->digest, 0) : std::nullopt;

  batch.Put(cf_->entries(), slice(entry.key), encode_entry(entry));
  if (!previous) ++totals.entries;
  if (new_reference) batch.Put(cf_->refs(), digest.str() + entry.key, "");

  if (const auto record = file(digest)) {
    auto updated = *record;
    if (new_reference) ++updated.references;
    updated.last_access = std::max(record->last_access, entry.created);
    if (updated.last_access != record->last_access) {
      batch.Delete(cf_->lru(), lru_key(record->last_access, digest));
      batch.Put(cf_->lru(), lru_key(updated.last_access, digest), "");
    }
    batch.Put(cf_->files(), slice(digest.str()), encode_file_record(updated));
  } else {
    const FileRecord created{
        .digest = digest, .size = entry.size, .last_access = entry.created, .references = 1};
    batch.Put(cf_->files(), slice(digest.str()), encode_file_record(created));
    batch.Put(cf_->lru(), lru_key(created.last_access, digest), "");
    totals.bytes += entry.size;
    ++totals.files;
  }

  if (previous && new_reference) {
    release_reference(batch, previous->digest, entry.key, totals, change);
  }
  change.error = commit(batch, totals);
  memo_.forget(entry.key);
  if (change.error) change.released_file.reset();
  if (!change.error) {
    settle_usage(usage);
    settle_usage(previous_usage);
  }
  return change;
}

std::error_code Index::touch(const IndexEntry& entry, Timestamp now) {
  if (!access_due(entry, now)) return {};  // the common path: no read, no write

  std::lock_guard lock(write_mutex_);
  const auto record = file(entry.digest);
  if (!record) return {};
  if (now - record->last_access < touch_granularity_) {  // another key of the file was read
    memo_.note_access(entry.key, record->last_access);
    return {};
  }
  auto updated = *record;
  updated.last_access = now;
  rocksdb::WriteBatch batch;
  batch.Delete(cf_->lru(), lru_key(record->last_access, entry.digest));
  batch.Put(cf_->lru(), lru_key(now, entry.digest), "");
  batch.Put(cf_->files(), slice(entry.digest.str()), encode_file_record(updated));
  auto error = to_error(db_->Write(rocksdb::WriteOptions(), &batch));
  if (!error) memo_.note_access(entry.key, now);
  return error;
}

IndexChange Index::remove(std::string_view key) {
  std::lock_guard lock(write_mutex_);
  IndexChange change;
  const auto previous = read_entry(key);
  if (!previous) return change;
  auto totals = this->totals();
  const auto usage = probe_usage(previous->digest, 0);
  rocksdb::WriteBatch batch;
  batch.Delete(cf_->entries(), slice(key));
  totals.entries -= std::min<std::uint64_t>(totals.entries, 1);
  release_reference(batch, previous->digest, key, totals, change);
  change.error = commit(batch, totals);
  memo_.forget(key);
  if (change.error) change.released_file.reset();
  if (!change.error) settle_usage(usage);
  return change;
}

FileRemoval Index::remove_file(const Digest& digest, std::optional<Timestamp> only_if_last_access) {
  std::lock_guard lock(write_mutex_);
  FileRemoval removal;
  const auto record = file(digest);
  if (!record) return removal;
  if (only_if_last_access && record->last_access != *only_if_last_access) return removal;

  auto totals = this->totals();
  const auto usage = probe_usage(digest, 0);
  rocksdb::WriteBatch batch;
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> refs(db_->NewIterator(rocksdb::ReadOptions(), cf_->refs()));
  for (refs->Seek(slice(digest.str())); refs->Valid() && refs->key().starts_with(digest.str());
       refs->Next()) {
    const auto ref = refs->key().ToStringView();
    keys.emplace_back(ref.substr(kDigestLength));
    batch.Delete(cf_->entries(), slice(keys.back()));
    batch.Delete(cf_->refs(), refs->key());
    ++removal.entries;
  }
  if (auto error = to_error(refs->status())) return {.error = error};
  batch.Delete(cf_->files(), slice(digest.str()));
  batch.Delete(cf_->lru(), lru_key(record->last_access, digest));
  totals.bytes -= std::min(totals.bytes, record->size);
  totals.files -= std::min<std::uint64_t>(totals.files, 1);
  totals.entries -= std::min<std::uint64_t>(totals.entries, removal.entries);
  removal.error = commit(batch, totals);
  for (const auto& key : keys) memo_.forget(key);
  if (!removal.error) {
    removal.removed = true;
    removal.bytes = record->size;
    settle_usage(usage);
  } else {
    removal.entries = 0;
  }
  return removal;
}

std::vector<FileRecord> Index::oldest_files(std::size_t count) const {
  std::vector<FileRecord> oldest;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->lru()));
  for (it->SeekToFirst(); it->Valid() && oldest.size() < count; it->Next()) {
    const auto decoded = decode_lru_key(it->key().ToStringView());
    if (!decoded) continue;
    auto record = file(decoded->second);
    // An order key whose record moved on (a concurrent touch) is skipped, not reported twice.
    if (record && record->last_access == decoded->first) oldest.push_back(std::move(*record));
  }
  return oldest;
}

void Index::for_each_file_by_age(const std::function<bool(const FileRecord&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->lru()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto decoded = decode_lru_key(it->key().ToStringView());
    if (!decoded) continue;
    auto record = file(decoded->second);
    if (record && record->last_access == decoded->first && !visit(*record)) return;
  }
}

std::set<std::string> Index::file_registries(const Digest& digest) const {
  std::set<std::string> registries;
  const auto prefix = digest.str();
  std::unique_ptr<rocksdb::Iterator> refs(db_->NewIterator(rocksdb::ReadOptions(), cf_->refs()));
  for (refs->Seek(slice(prefix)); refs->Valid() && refs->key().starts_with(prefix); refs->Next()) {
    const auto registry = registry_of_key(refs->key().ToStringView().substr(kDigestLength));
    if (!registry.empty()) registries.emplace(registry);
  }
  return registries;
}

void Index::track_registry_bytes() {
  std::lock_guard lock(write_mutex_);
  if (tracking_registries_) return;
  std::unordered_map<std::string, std::uint64_t> bytes;
  std::unique_ptr<rocksdb::Iterator> refs(db_->NewIterator(rocksdb::ReadOptions(), cf_->refs()));
  // References are ordered by digest: one file's registries are collected, then counted.
  std::string current;
  std::set<std::string> registries;
  const auto flush = [&] {
    const auto digest = Digest::parse(current);
    const auto record = digest ? file(*digest) : std::nullopt;
    if (record) {
      for (const auto& registry : registries) bytes[registry] += record->size;
    }
    registries.clear();
  };
  for (refs->SeekToFirst(); refs->Valid(); refs->Next()) {
    const auto ref = refs->key().ToStringView();
    if (ref.size() < kDigestLength) continue;
    if (ref.substr(0, kDigestLength) != current) {
      if (!current.empty()) flush();
      current = std::string(ref.substr(0, kDigestLength));
    }
    const auto registry = registry_of_key(ref.substr(kDigestLength));
    if (!registry.empty()) registries.emplace(registry);
  }
  if (!current.empty()) flush();
  {
    std::lock_guard bytes_lock(registry_bytes_mutex_);
    registry_bytes_ = std::move(bytes);
  }
  tracking_registries_ = true;
}

std::uint64_t Index::registry_bytes(std::string_view registry) const {
  std::lock_guard lock(registry_bytes_mutex_);
  const auto found = registry_bytes_.find(std::string(registry));
  return found == registry_bytes_.end() ? 0 : found->second;
}

std::optional<Index::UsageProbe> Index::probe_usage(const Digest& digest, std::uint64_t size_if_new) const {
  if (!tracking_registries_) return std::nullopt;
  const auto record = file(digest);
  return UsageProbe{.digest = digest, .size = record ? record->size : size_if_new, .before = file_registries(digest)};
}

void Index::settle_usage(const std::optional<UsageProbe>& probe) {
  if (!probe) return;
  const auto after = file_registries(probe->digest);
  std::lock_guard lock(registry_bytes_mutex_);
  for (const auto& registry : after) {
    if (!probe->before.contains(registry)) registry_bytes_[registry] += probe->size;
  }
  for (const auto& registry : probe->before) {
    if (after.contains(registry)) continue;
    auto& bytes = registry_bytes_[registry];
    bytes -= std::min(bytes, probe->size);
  }
}

void Index::for_each_entry(const std::function<bool(const IndexEntry&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->entries()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto entry = decode_entry(it->key().ToStringView(), it->value().ToStringView());
    if (!entry) continue;
    if (const auto record = file(entry->digest)) entry->last_access = record->last_access;
    if (!visit(*entry)) return;
  }
}

void Index::for_each_file(const std::function<bool(const FileRecord&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->files()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto digest = Digest::parse(it->key().ToStringView());
    if (!digest) continue;
    const auto record = decode_file_record(*digest, it->value().ToStringView());
    if (record && !visit(*record)) return;
  }
}

std::optional<TagRecord> Index::get_tag_memoized(std::string_view key) const {
  std::lock_guard lock(tag_memo_mutex_);
  if (auto found = tag_memo_.find(std::string(key)); found != tag_memo_.end()) return found->second;
  return std::nullopt;
}

std::optional<TagRecord> Index::get_tag(std::string_view key) const {
  if (auto memoized = get_tag_memoized(key)) return memoized;
  if (!cf_->tags()) return std::nullopt;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(tag_memo_mutex_);
    generation = tag_generation_;
  }
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), cf_->tags(), slice(key), &value).ok()) return std::nullopt;
  auto record = decode_tag_record(key, value);
  // Only the writer memoizes: a reader's view must follow the other process's writes.
  if (record && reader_dir_.empty()) {
    std::lock_guard lock(tag_memo_mutex_);
    if (generation == tag_generation_) {
      if (tag_memo_.size() >= kTagMemoCapacity) tag_memo_.clear();
      tag_memo_.insert_or_assign(std::string(key), *record);
    }
  }
  return record;
}

std::error_code Index::update_tag(std::string_view key,
                                  const std::function<void(std::optional<TagRecord>&)>& change) {
  if (!cf_->tags()) return std::make_error_code(std::errc::read_only_file_system);
  std::lock_guard write_lock(write_mutex_);
  std::optional<TagRecord> record;
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), cf_->tags(), slice(key), &value).ok()) record = decode_tag_record(key, value);
  change(record);
  std::error_code error;
  if (record) {
    record->key = std::string(key);
    error = to_error(db_->Put(rocksdb::WriteOptions(), cf_->tags(), slice(key), encode_tag_record(*record)));
  } else {
    error = to_error(db_->Delete(rocksdb::WriteOptions(), cf_->tags(), slice(key)));
  }
  std::lock_guard lock(tag_memo_mutex_);
  ++tag_generation_;
  if (error || !record) {
    tag_memo_.erase(std::string(key));
  } else {
    if (tag_memo_.size() >= kTagMemoCapacity) tag_memo_.clear();
    tag_memo_.insert_or_assign(std::string(key), std::move(*record));
  }
  return error;
}

std::error_code Index::remove_tag(std::string_view key) {
  return update_tag(key, [](std::optional<TagRecord>& record) { record.reset(); });
}

std::optional<std::string> Index::get_note(std::string_view prefix, std::string_view key) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), cf_->meta(), std::string(prefix) + std::string(key), &value).ok()) {
    return std::nullopt;
  }
  return value;
}

std::error_code Index::put_note(std::string_view prefix, std::string_view key, std::string_view value) {
  if (!reader_dir_.empty()) return std::make_error_code(std::errc::read_only_file_system);
  return to_error(db_->Put(rocksdb::WriteOptions(), cf_->meta(), std::string(prefix) + std::string(key), slice(value)));
}

std::error_code Index::remove_note(std::string_view prefix, std::string_view key) {
  if (!reader_dir_.empty()) return std::make_error_code(std::errc::read_only_file_system);
  return to_error(db_->Delete(rocksdb::WriteOptions(), cf_->meta(), std::string(prefix) + std::string(key)));
}

void Index::for_each_note(std::string_view prefix,
                          const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->meta()));
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next()) {
    if (!visit(it->key().ToStringView().substr(prefix.size()), it->value().ToStringView())) return;
  }
}

std::error_code Index::add_pending_upload(std::string_view id, std::string_view note) {
  return put_note(kPendingUploadPrefix, id, note);
}

std::error_code Index::remove_pending_upload(std::string_view id) { return remove_note(kPendingUploadPrefix, id); }

void Index::for_each_pending_upload(const std::function<bool(std::string_view, std::string_view)>& visit) const {
  for_each_note(kPendingUploadPrefix, visit);
}

void Index::for_each_tag(const std::function<bool(const TagRecord&)>& visit) const {
  if (!cf_->tags()) return;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->tags()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto record = decode_tag_record(it->key().ToStringView(), it->value().ToStringView());
    if (record && !visit(*record)) return;
  }
}

std::optional<Timestamp> Index::bucket_last_used(std::string_view object_key) const {
  const auto value = get_note(kBucketUsedPrefix, object_key);
  if (!value || value->size() != 8) return std::nullopt;
  return Timestamp(std::chrono::seconds(static_cast<std::int64_t>(decode_u64(*value))));
}

std::error_code Index::put_bucket_last_used(std::string_view object_key, Timestamp when) {
  std::string value;
  const auto seconds = static_cast<std::uint64_t>(when.time_since_epoch().count());
  for (int shift = 56; shift >= 0; shift -= 8) value.push_back(static_cast<char>(seconds >> shift));
  return put_note(kBucketUsedPrefix, object_key, value);
}

std::error_code Index::forget_bucket_last_used(std::string_view object_key) {
  return remove_note(kBucketUsedPrefix, object_key);
}

void Index::for_each_bucket_last_used(const std::function<bool(std::string_view object_key, Timestamp when)>& visit) const {
  for_each_note(kBucketUsedPrefix, [&visit](std::string_view key, std::string_view value) {
    if (value.size() != 8) return true;  // not a record of ours: skipped
    return visit(key, Timestamp(std::chrono::seconds(static_cast<std::int64_t>(decode_u64(value)))));
  });
}

}  // namespace pt::cache
