// Tag records in the store: recording variants, revalidation, removal, persistence, the migration
// of an older release's per-Accept tag entries, and what cache management makes of records.
#include "cache/cache_admin.hpp"
#include "cache/cache_key.hpp"
#include "cache/cache_store.hpp"
#include "cache/manifest_negotiation.hpp"

#include "store_helpers.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <map>
#include <set>

using namespace pt::cache;
using namespace pt::cache::test;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));
constexpr const char* kReg = "registry.test:5000";  // a port: the key holds a ':' before the tag's
const std::string kTagKey = std::string("tag/") + kReg + "/library/app:1";

std::unique_ptr<CacheStore> open_store(const TempDir& dir, std::uint64_t max_bytes = 1ull << 30) {
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = max_bytes;
  return CacheStore::open(settings);
}

Digest digest_n(int n) { return *Digest::parse(fmt::format("sha256:{:064x}", n)); }

TagVariant variant(int n, std::string_view media_type, Timestamp fetched, std::uint64_t size = 100) {
  return {.digest = digest_n(n), .media_type = std::string(media_type), .size = size, .fetched = fetched};
}

// store_content() with the Content-Type a registry would send.

std::string platform_manifest_body(unsigned seed) {
  return nlohmann::json{{"schemaVersion", 2},
                        {"mediaType", kDockerManifest},
                        {"config", {{"digest", digest_n(static_cast<int>(seed)).str()}, {"size", 1}}},
                        {"layers", nlohmann::json::array()}}
      .dump();
}

std::string index_body(const std::vector<Digest>& children) {
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& child : children) {
    manifests.push_back({{"mediaType", kDockerManifest},
                         {"digest", child.str()},
                         {"size", 1},
                         {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}});
  }
  return nlohmann::json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}}.dump();
}

const TagVariant* find_variant(const TagRecord& record, const Digest& digest) {
  const auto it = std::find_if(record.variants.begin(), record.variants.end(),
                               [&](const TagVariant& v) { return v.digest == digest; });
  return it == record.variants.end() ? nullptr : &*it;
}

std::vector<std::string> entry_keys(const Index& index) {
  std::vector<std::string> keys;
  index.for_each_entry([&](const IndexEntry& entry) {
    keys.push_back(entry.key);
    return true;
  });
  return keys;
}

std::vector<std::string> tag_keys(const Index& index) {
  std::vector<std::string> keys;
  index.for_each_tag([&](const TagRecord& record) {
    keys.push_back(record.key);
    return true;
  });
  return keys;
}

}  // namespace

// ---------------------------------------------------------------- records

TEST_CASE("CacheStore records a tag variant that tag() and tag_memoized() return") {
  TempDir dir;
  auto store = open_store(dir);
  CHECK_FALSE(store->tag(kTagKey));
  CHECK_FALSE(store->tag_memoized(kTagKey));

  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  for (const auto& record : {store->tag(kTagKey), store->tag_memoized(kTagKey)}) {
    REQUIRE(record);
    CHECK(record->key == kTagKey);
    REQUIRE(record->variants.size() == 1);
    CHECK(record->variants[0] == variant(1, kOciIndex, kT0));
    CHECK(record->fresh_until == kT0 + 60s);
    CHECK(record->fetched == kT0);
    CHECK(record->revalidated == Timestamp{});
    CHECK_FALSE(record->head_digest);
  }
  CHECK(tag_keys(store->index()) == std::vector<std::string>{kTagKey});
  // Records are outside the totals: they reference no file.
  CHECK(store->index().entry_count() == 0);
  CHECK(store->index().total_bytes() == 0);
  CHECK_FALSE(store->tag(kTagKey + "x"));
  CHECK_FALSE(store->tag(std::string("tag/") + kReg + "/library/app:2"));
}

TEST_CASE("CacheStore merges the variants of a tag fetched by different clients") {
  TempDir dir;
  auto store = open_store(dir);
  // containerd's fill accepted every type: it tells the tag's identity.
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, digest_n(1)));
  // An old client's fill: the platform manifest, no identity.
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(2, kDockerManifest, kT0 + 10s), kT0 + 70s, false,
                                          std::nullopt));
  const auto record = store->tag(kTagKey);
  REQUIRE(record);
  REQUIRE(record->variants.size() == 2);
  CHECK(find_variant(*record, digest_n(1)));
  CHECK(find_variant(*record, digest_n(2)));
  REQUIRE(record->head_digest);
  CHECK(*record->head_digest == digest_n(1));  // kept
  CHECK(record->fresh_until == kT0 + 70s);
  CHECK(record->fetched == kT0 + 10s);
  CHECK(store->tag_memoized(kTagKey) == record);

  SECTION("the same variant again replaces it") {
    REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(2, kDockerManifest, kT0 + 20s, 200), kT0 + 80s, false,
                                            std::nullopt));
    const auto again = store->tag(kTagKey);
    REQUIRE(again->variants.size() == 2);
    CHECK(find_variant(*again, digest_n(2))->size == 200);
    CHECK(find_variant(*again, digest_n(2))->fetched == kT0 + 20s);
  }
  SECTION("choose_variant picks from the stored record") {
    CHECK(choose_variant(*record, AcceptedTypes::parse(""))->digest == digest_n(1));
    CHECK(choose_variant(*record, AcceptedTypes::parse(std::string(kDockerManifest)))->digest == digest_n(2));
  }
}

TEST_CASE("CacheStore drops a moved tag's old variants and its head digest") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, digest_n(1)));
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(2, kDockerManifest, kT0), kT0 + 60s, false, std::nullopt));

  SECTION("moved, fetched by a client that tells no identity") {
    REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(3, kDockerManifest, kT0 + 100s), kT0 + 160s, true,
                                            std::nullopt));
    const auto record = store->tag(kTagKey);
    REQUIRE(record);
    REQUIRE(record->variants.size() == 1);
    CHECK(record->variants[0].digest == digest_n(3));
    CHECK_FALSE(record->head_digest);
    CHECK(record->fresh_until == kT0 + 160s);
    CHECK(store->tag_memoized(kTagKey) == record);
  }
  SECTION("moved, with the new identity") {
    REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(4, kOciIndex, kT0 + 100s), kT0 + 160s, true,
                                            digest_n(4)));
    const auto record = store->tag(kTagKey);
    REQUIRE(record->variants.size() == 1);
    REQUIRE(record->head_digest);
    CHECK(*record->head_digest == digest_n(4));
  }
}

TEST_CASE("CacheStore::refresh_tag renews a record and keeps its variants") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(2, kDockerManifest, kT0), kT0 + 60s, false, std::nullopt));
  const auto before = store->tag(kTagKey);

  REQUIRE_FALSE(store->refresh_tag(kTagKey, kT0 + 500s, kT0 + 800s, digest_n(1)));
  const auto record = store->tag(kTagKey);
  REQUIRE(record);
  CHECK(record->variants == before->variants);
  CHECK(record->fetched == before->fetched);
  CHECK(record->revalidated == kT0 + 500s);
  CHECK(record->fresh_until == kT0 + 800s);
  REQUIRE(record->head_digest);
  CHECK(*record->head_digest == digest_n(1));
  CHECK(store->tag_memoized(kTagKey) == record);

  SECTION("a second refresh replaces the head digest") {
    REQUIRE_FALSE(store->refresh_tag(kTagKey, kT0 + 900s, kT0 + 1200s, digest_n(2)));
    CHECK(*store->tag(kTagKey)->head_digest == digest_n(2));
    CHECK(store->tag(kTagKey)->variants.size() == 2);
  }
  SECTION("a record removed meanwhile stays removed") {
    REQUIRE_FALSE(store->remove_entry(kTagKey).error);
    CHECK_FALSE(store->refresh_tag(kTagKey, kT0 + 900s, kT0 + 1200s, digest_n(1)));
    CHECK_FALSE(store->tag(kTagKey));
    CHECK_FALSE(store->tag_memoized(kTagKey));
    CHECK(tag_keys(store->index()).empty());
  }
  SECTION("refreshing a tag never recorded creates nothing") {
    const auto other = std::string("tag/") + kReg + "/library/app:never";
    CHECK_FALSE(store->refresh_tag(other, kT0, kT0 + 60s, digest_n(1)));
    CHECK_FALSE(store->tag(other));
  }
}

TEST_CASE("CacheStore::remove_entry of a tag key removes its record, not its manifests") {
  TempDir dir;
  auto store = open_store(dir);
  const auto body = platform_manifest_body(1);
  const auto digest = digest_of(body);
  const auto manifest = manifest_key(kReg, "library/app", digest);
  REQUIRE_FALSE(store_typed(*store, manifest, body, kDockerManifest, kT0));
  REQUIRE_FALSE(store->record_tag_variant(
      kTagKey, {.digest = digest, .media_type = std::string(kDockerManifest), .size = body.size(), .fetched = kT0},
      kT0 + 60s, false, std::nullopt));
  REQUIRE(store->tag(kTagKey));
  const auto bytes = store->index().total_bytes();

  const auto change = store->remove_entry(kTagKey);
  CHECK_FALSE(change.error);
  CHECK_FALSE(change.released_file);
  CHECK_FALSE(store->tag(kTagKey));
  CHECK_FALSE(store->tag_memoized(kTagKey));
  CHECK(store->index().get(manifest));
  CHECK(store->blobs().contains(digest));
  CHECK(store->index().total_bytes() == bytes);

  SECTION("removing it again is no error") { CHECK_FALSE(store->remove_entry(kTagKey).error); }
  SECTION("it stays removed after reopening") {
    store.reset();
    store = open_store(dir);
    CHECK_FALSE(store->tag(kTagKey));
  }
}

TEST_CASE("Tag records survive reopening the store") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(2, kDockerManifest, kT0 + 5s), kT0 + 60s, false,
                                          std::nullopt));
  REQUIRE_FALSE(store->refresh_tag(kTagKey, kT0 + 30s, kT0 + 90s, digest_n(1)));
  const auto before = store->tag(kTagKey);
  REQUIRE(before);

  store.reset();
  store = open_store(dir);
  CHECK(store->migrated_tags() == 0);
  CHECK_FALSE(store->tag_memoized(kTagKey));  // a new process remembers nothing yet
  const auto after = store->tag(kTagKey);
  REQUIRE(after);
  CHECK(*after == *before);
  CHECK(store->tag_memoized(kTagKey) == after);  // read once, memoized
}

TEST_CASE("An index reader sees tag records but does not memoize them") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(1, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  auto reader = Index::open_reader(dir.path() / "cache" / "index");
  const auto record = reader->get_tag(kTagKey);
  REQUIRE(record);
  CHECK(record->variants.size() == 1);
  CHECK_FALSE(reader->get_tag_memoized(kTagKey));
  CHECK(tag_keys(*reader) == std::vector<std::string>{kTagKey});
  CHECK(reader->update_tag(kTagKey, [](std::optional<TagRecord>& r) { r.reset(); }));  // read-only
  CHECK(store->tag(kTagKey));
}

// ---------------------------------------------------------------- migration

TEST_CASE("Opening a cache of an older release converts its per-Accept tag entries into records") {
  TempDir dir;
  auto store = open_store(dir);
  const auto index = index_body({digest_n(50)});
  const auto platform = platform_manifest_body(2);
  const auto shared = platform_manifest_body(3);  // also stored by digest before the migration
  const auto d_index = digest_of(index), d_platform = digest_of(platform), d_shared = digest_of(shared);
  const std::string everything =
      "application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json,"
      "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json";
  const auto legacy = [&](const std::string& tag, const std::string& accept_variant) {
    return fmt::format("tag/{}/library/app:{}#{}", kReg, tag, accept_variant);
  };
  const auto shared_manifest = manifest_key(kReg, "library/app", d_shared);
  REQUIRE_FALSE(store_typed(*store, shared_manifest, shared, kDockerManifest, kT0 - 100s));
  REQUIRE_FALSE(store_typed(*store, legacy("1", everything), index, kOciIndex, kT0, kT0 + 300s));
  REQUIRE_FALSE(store_typed(*store, legacy("1", "application/vnd.docker.distribution.manifest.v2+json"), platform,
                            kDockerManifest, kT0 + 10s, kT0 + 600s));
  REQUIRE_FALSE(store_typed(*store, legacy("1", "application/json"), shared, kDockerManifest, kT0 + 20s,
                            kT0 + 100s));
  // Another tag with the platform manifest's file: one more reference to the same file.
  REQUIRE_FALSE(store_typed(*store, legacy("2", "application/json"), platform, kDockerManifest, kT0 + 30s,
                            kT0 + 400s));
  for (const auto& key : entry_keys(store->index())) CHECK((key == shared_manifest || is_legacy_tag_key(key)));
  REQUIRE(store->index().entry_count() == 5);
  REQUIRE(store->index().file_count() == 3);
  const auto bytes = store->index().total_bytes();
  REQUIRE(bytes == index.size() + platform.size() + shared.size());
  CHECK(store->index().file(d_platform)->references == 2);
  CHECK(store->index().file(d_shared)->references == 2);
  CHECK(store->migrated_tags() == 0);

  store.reset();
  store = open_store(dir);

  CHECK(store->migrated_tags() == 4);
  // The legacy entries are gone; the manifests are kept under their digests, once each.
  const auto keys = entry_keys(store->index());
  CHECK(std::none_of(keys.begin(), keys.end(), [](const std::string& key) { return is_legacy_tag_key(key); }));
  const auto m_index = manifest_key(kReg, "library/app", d_index);
  const auto m_platform = manifest_key(kReg, "library/app", d_platform);
  CHECK(std::set<std::string>(keys.begin(), keys.end()) == std::set<std::string>{m_index, m_platform, shared_manifest});
  CHECK(store->index().entry_count() == 3);

  // No file lost, none counted twice.
  CHECK(store->index().total_bytes() == bytes);
  CHECK(store->index().file_count() == 3);
  for (const auto& digest : {d_index, d_platform, d_shared}) {
    INFO(digest.str());
    CHECK(store->blobs().contains(digest));
    REQUIRE(store->index().file(digest));
    CHECK(store->index().file(digest)->references == 1);
  }

  // The manifest entries keep what the tag entries knew, are immutable and serve their bytes.
  const auto index_entry = store->index().get(m_index);
  REQUIRE(index_entry);
  CHECK(index_entry->media_type == kOciIndex);
  CHECK(index_entry->size == index.size());
  CHECK(index_entry->fresh_until == kForever);
  CHECK(index_entry->created == kT0);
  CHECK(index_entry->headers == Headers{{"Docker-Content-Digest", d_index.str()}});
  CHECK(store->index().get(m_platform)->media_type == kDockerManifest);
  CHECK(store->index().get(shared_manifest)->created == kT0 - 100s);  // the existing entry, untouched
  CHECK(store->lookup(m_index, kT0 + 1s));
  CHECK(store->lookup(m_platform, kT0 + 1s));

  // One record per tag, one variant per distinct manifest.
  const auto record = store->tag(std::string("tag/") + kReg + "/library/app:1");
  REQUIRE(record);
  REQUIRE(record->variants.size() == 3);
  const auto* v_index = find_variant(*record, d_index);
  const auto* v_platform = find_variant(*record, d_platform);
  const auto* v_shared = find_variant(*record, d_shared);
  REQUIRE(v_index);
  REQUIRE(v_platform);
  REQUIRE(v_shared);
  CHECK(v_index->media_type == kOciIndex);
  CHECK(v_index->size == index.size());
  CHECK(v_index->fetched == kT0);
  CHECK(v_platform->media_type == kDockerManifest);
  CHECK(v_platform->size == platform.size());
  CHECK(v_platform->fetched == kT0 + 10s);
  CHECK(v_shared->fetched == kT0 + 20s);
  CHECK(record->fresh_until == kT0 + 600s);  // the freshest of its entries
  CHECK(record->fetched == kT0 + 20s);
  CHECK_FALSE(record->head_digest);
  // The record answers clients as the entries did.
  CHECK(choose_variant(*record, AcceptedTypes::parse(""))->digest == d_index);

  const auto record2 = store->tag(std::string("tag/") + kReg + "/library/app:2");
  REQUIRE(record2);
  REQUIRE(record2->variants.size() == 1);
  CHECK(record2->variants[0].digest == d_platform);
  CHECK(record2->fresh_until == kT0 + 400s);
  CHECK(tag_keys(store->index()).size() == 2);

  SECTION("a second reopen converts nothing more") {
    store.reset();
    store = open_store(dir);
    CHECK(store->migrated_tags() == 0);
    CHECK(store->tag(std::string("tag/") + kReg + "/library/app:1")->variants.size() == 3);
    CHECK(store->index().total_bytes() == bytes);
  }
}

TEST_CASE("Migration of two legacy entries of one manifest makes one variant and one manifest entry") {
  TempDir dir;
  auto store = open_store(dir);
  const auto body = platform_manifest_body(4);
  const auto digest = digest_of(body);
  REQUIRE_FALSE(store_typed(*store, fmt::format("tag/quay.io/org/team/app:v1#{}", kDockerManifest), body,
                            kDockerManifest, kT0, kT0 + 60s));
  REQUIRE_FALSE(store_typed(*store, "tag/quay.io/org/team/app:v1#application/json", body, kDockerManifest, kT0 + 5s,
                            kT0 + 30s));
  store.reset();
  store = open_store(dir);
  CHECK(store->migrated_tags() == 2);
  const auto record = store->tag("tag/quay.io/org/team/app:v1");
  REQUIRE(record);
  REQUIRE(record->variants.size() == 1);
  CHECK(record->variants[0].digest == digest);
  CHECK(record->fresh_until == kT0 + 60s);
  CHECK(entry_keys(store->index()) == std::vector<std::string>{manifest_key("quay.io", "org/team/app", digest)});
  CHECK(store->index().file(digest)->references == 1);
  CHECK(store->index().total_bytes() == body.size());
}

TEST_CASE("Migration drops a legacy tag entry it cannot read, and its file") {
  TempDir dir;
  auto store = open_store(dir);
  const auto body = platform_manifest_body(5);
  const auto digest = digest_of(body);
  REQUIRE_FALSE(store_typed(*store, "tag/r/no-tag#application/json", body, kDockerManifest, kT0));
  store.reset();
  store = open_store(dir);
  CHECK(store->migrated_tags() == 0);
  CHECK(entry_keys(store->index()).empty());
  CHECK(tag_keys(store->index()).empty());
  CHECK(store->index().total_bytes() == 0);
  CHECK_FALSE(store->blobs().contains(digest));
}

TEST_CASE("Index::open_reader reads an index written before tag records") {
  TempDir dir;
  const auto path = dir.path() / "index";
  {
    auto index = Index::open(path);
    REQUIRE_FALSE(index->put({.key = "blob/r/" + digest_n(1).str(), .digest = digest_n(1), .size = 10,
                              .media_type = "application/octet-stream", .created = kT0, .fresh_until = kForever})
                      .error);
  }
  {
    // An older release's index: the same families without "tags".
    rocksdb::Options options;
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), path.string(), &names).ok());
    REQUIRE(std::find(names.begin(), names.end(), "tags") != names.end());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(options), path.string(), families, &handles, &db).ok());
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "tags") REQUIRE(db->DropColumnFamily(handles[i]).ok());
    }
    for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
    REQUIRE(db->Close().ok());
    delete db;
    names.clear();
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), path.string(), &names).ok());
    REQUIRE(std::find(names.begin(), names.end(), "tags") == names.end());
  }

  auto reader = Index::open_reader(path);
  CHECK(reader->total_bytes() == 10);
  CHECK(reader->get("blob/r/" + digest_n(1).str()));
  CHECK_FALSE(reader->get_tag(kTagKey));
  CHECK(tag_keys(*reader).empty());
  CHECK(reader->update_tag(kTagKey, [](std::optional<TagRecord>& r) { r.emplace(); }));
  CHECK(reader->remove_tag(kTagKey));
  reader.reset();

  SECTION("the writer of the new release adds the family") {
    auto index = Index::open(path);
    CHECK_FALSE(index->update_tag(kTagKey, [](std::optional<TagRecord>& r) {
      r.emplace();
      merge_variant(*r, variant(1, kOciIndex, kT0), false);
    }));
    CHECK(index->get_tag(kTagKey));
    CHECK(index->get("blob/r/" + digest_n(1).str()));
    index.reset();
    auto reader2 = Index::open_reader(path);
    CHECK(reader2->get_tag(kTagKey));
  }
}

// ---------------------------------------------------------------- cache management

TEST_CASE("ls shows a tag record once, as its index") {
  TempDir dir;
  auto store = open_store(dir);
  const auto platform = platform_manifest_body(6);
  const auto d_platform = digest_of(platform);
  const auto index = index_body({d_platform});
  const auto d_index = digest_of(index);
  REQUIRE_FALSE(store_typed(*store, manifest_key(kReg, "library/app", d_platform), platform, kDockerManifest, kT0));
  REQUIRE_FALSE(store_typed(*store, manifest_key(kReg, "library/app", d_index), index, kOciIndex, kT0));
  // The platform manifest fetched last: the index still represents the tag.
  REQUIRE_FALSE(store->record_tag_variant(
      kTagKey, {.digest = d_index, .media_type = std::string(kOciIndex), .size = index.size(), .fetched = kT0},
      kT0 + 60s, false, d_index));
  REQUIRE_FALSE(store->record_tag_variant(kTagKey,
                                          {.digest = d_platform, .media_type = std::string(kDockerManifest),
                                           .size = platform.size(), .fetched = kT0 + 10s},
                                          kT0 + 60s, false, std::nullopt));

  const auto snapshot = take_snapshot(store->index(), store->blobs());
  const auto rows = list_images(snapshot);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].registry == kReg);
  CHECK(rows[0].repository == "library/app");
  CHECK(rows[0].tag == "1");
  CHECK(rows[0].digest == d_index);
  CHECK(rows[0].media_type == kOciIndex);
  CHECK(rows[0].manifest_size == index.size());
  CHECK(rows[0].size == index.size() + platform.size());  // the index and its child

  const auto stats = cache_stats(snapshot);
  REQUIRE(stats.registries.size() == 1);
  CHECK(stats.registries[0].tags == 1);
  CHECK(stats.registries[0].repositories == 1);

  SECTION("with only the platform manifest stored, the tag shows it") {
    REQUIRE_FALSE(store->index().remove(manifest_key(kReg, "library/app", d_index)).error);
    const auto only = list_images(take_snapshot(store->index(), store->blobs()));
    REQUIRE(only.size() == 1);
    CHECK(only[0].tag == "1");
    CHECK(only[0].digest == d_platform);
  }
}

TEST_CASE("ls lists no tag whose manifests are not stored, and gc drops its record") {
  TempDir dir;
  auto store = open_store(dir);
  const auto body = platform_manifest_body(7);
  const auto digest = digest_of(body);
  const auto stored_tag = std::string("tag/") + kReg + "/library/app:stored";
  REQUIRE_FALSE(store_typed(*store, manifest_key(kReg, "library/app", digest), body, kDockerManifest, kT0));
  REQUIRE_FALSE(store->record_tag_variant(
      stored_tag, {.digest = digest, .media_type = std::string(kDockerManifest), .size = body.size(), .fetched = kT0},
      kT0 + 60s, false, std::nullopt));
  // Named by a HEAD only, or its manifests evicted.
  REQUIRE_FALSE(store->record_tag_variant(kTagKey, variant(90, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  const auto other_repo = std::string("tag/") + kReg + "/ghost:1";
  REQUIRE_FALSE(store->record_tag_variant(other_repo, variant(91, kDockerManifest, kT0), kT0 + 60s, false,
                                          std::nullopt));
  // One stored variant is enough to keep a record.
  const auto half = std::string("tag/") + kReg + "/library/app:half";
  REQUIRE_FALSE(store->record_tag_variant(half, variant(92, kOciIndex, kT0), kT0 + 60s, false, std::nullopt));
  REQUIRE_FALSE(store->record_tag_variant(
      half, {.digest = digest, .media_type = std::string(kDockerManifest), .size = body.size(), .fetched = kT0},
      kT0 + 60s, false, std::nullopt));

  const auto snapshot = take_snapshot(store->index(), store->blobs());
  const auto rows = list_images(snapshot);
  std::set<std::string> tags;
  for (const auto& row : rows) tags.insert(row.tag);
  CHECK(tags == std::set<std::string>{"half", "stored"});
  CHECK(rows.size() == 2);
  CHECK(snapshot.foreign_keys == 0);
  CHECK(cache_stats(snapshot).registries.at(0).repositories == 1);  // "ghost" holds nothing

  const auto result = collect_garbage(*store, 1ull << 30);
  CHECK(result.dangling_tags == 2);
  CHECK(to_json(result)["dangling_tags_dropped"] == 2);
  CHECK_FALSE(store->tag(kTagKey));
  CHECK_FALSE(store->tag(other_repo));
  CHECK(store->tag(stored_tag));
  CHECK(store->tag(half));
  CHECK(store->index().get(manifest_key(kReg, "library/app", digest)));

  SECTION("once gc evicts a record's manifest, the next gc drops the record") {
    const auto evicting = collect_garbage(*store, 0);
    CHECK(evicting.evicted.files == 1);
    CHECK(evicting.dangling_tags == 2);  // evicted first, then the records are checked
    CHECK(tag_keys(store->index()).empty());
  }
}
