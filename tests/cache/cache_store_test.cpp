#include "cache/cache_store.hpp"

#include "cache/cache_error.hpp"
#include "store_helpers.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace pt::cache;
using namespace pt::cache::test;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

std::unique_ptr<CacheStore> open_store(const TempDir& dir, std::uint64_t max_bytes = 1ull << 30) {
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = max_bytes;
  return CacheStore::open(settings);
}

std::string read_all(const BlobReader& reader) {
  std::string out(reader.size(), '\0');
  std::error_code ec;
  out.resize(reader.read_at(0, out, ec));
  return out;
}

}  // namespace

TEST_CASE("CacheStore serves what a fill committed") {
  TempDir dir;
  auto store = open_store(dir);
  const auto content = make_content(10'000);
  REQUIRE_FALSE(store_content(*store, "test/r/a:latest", content, kT0, kT0 + 60s));

  const auto hit = store->lookup("test/r/a:latest", kT0 + 1s);
  REQUIRE(hit);
  CHECK(hit->entry.digest == digest_of(content));
  CHECK(hit->entry.size == content.size());
  CHECK(hit->entry.media_type == "application/vnd.oci.image.manifest.v1+json");
  CHECK(hit->entry.fresh_until == kT0 + 60s);
  CHECK(hit->entry.headers.front().second == digest_of(content).str());
  CHECK(read_all(hit->reader) == content);
  CHECK(store->verified_files().contains(hit->reader, hit->entry.digest));  // hashed while filled
  CHECK(store->fills().active_fills() == 0);
  CHECK_FALSE(store->lookup("test/r/a:other", kT0));

  SECTION("an alias shares the file") {
    auto alias = hit->entry;
    alias.key = "manifest/r/a@" + alias.digest.str();
    REQUIRE_FALSE(store->add_alias(alias));
    CHECK(store->lookup(alias.key, kT0));
    CHECK(store->index().total_bytes() == content.size());
    CHECK(store->index().entry_count() == 2);
  }
  SECTION("a new version of a tag replaces the old file") {
    const auto newer = make_content(2'000, 9);
    REQUIRE_FALSE(store_content(*store, "test/r/a:latest", newer, kT0 + 5s));
    CHECK(read_all(store->lookup("test/r/a:latest", kT0 + 6s)->reader) == newer);
    CHECK_FALSE(store->blobs().contains(digest_of(content)));
    CHECK(store->index().total_bytes() == newer.size());
  }
  SECTION("state survives a restart") {
    store.reset();
    store = open_store(dir);
    REQUIRE(store->lookup("test/r/a:latest", kT0));
    CHECK(store->index().total_bytes() == content.size());
  }
}

TEST_CASE("CacheStore drops entries whose files are missing or corrupt") {
  TempDir dir;
  auto store = open_store(dir);
  const auto content = make_content(1'000);
  const auto digest = digest_of(content);
  REQUIRE_FALSE(store_content(*store, "blob/r/" + digest.str(), content, kT0));
  REQUIRE_FALSE(store_content(*store, "test/r/a:1", content, kT0));  // same file, second entry

  SECTION("missing") { std::filesystem::remove(store->blobs().blob_path(digest)); }
  SECTION("corrupt, same size") {
    std::ofstream(store->blobs().blob_path(digest), std::ios::binary) << make_content(1'000, 3);
  }
  SECTION("truncated") {
    std::filesystem::resize_file(store->blobs().blob_path(digest), 10);
  }
  CHECK_FALSE(store->lookup("blob/r/" + digest.str(), kT0));
  CHECK_FALSE(store->index().get("test/r/a:1"));  // gone with the file
  CHECK(store->index().total_bytes() == 0);
  CHECK_FALSE(store->blobs().contains(digest));
}

TEST_CASE("CacheStore answers a hot key from memory until its access must be recorded") {
  TempDir dir;
  auto store = open_store(dir);
  const auto content = make_content(1'000);
  const auto digest = digest_of(content);
  const std::string key = "test/r/a:1";
  REQUIRE_FALSE(store_content(*store, key, content, kT0, kT0 + 60s));

  // Not yet verified in this process: the blocking lookup must hash it first.
  CHECK_FALSE(store->lookup_memoized(key, kT0 + 1s));
  REQUIRE(store->lookup(key, kT0 + 1s));
  const auto hit = store->lookup_memoized(key, kT0 + 2s);
  REQUIRE(hit);
  CHECK(hit->entry.digest == digest);
  CHECK(hit->entry.fresh_until == kT0 + 60s);
  CHECK(read_all(hit->reader) == content);
  CHECK_FALSE(store->lookup_memoized("test/r/a:2", kT0 + 2s));
  CHECK(store->peek_memoized(key, kT0 + 2s)->digest == digest);
  CHECK_FALSE(store->peek_memoized(key, kT0 + 61s));  // the blocking lookup records the access

  SECTION("an access to record sends it to the blocking lookup, which records it") {
    CHECK_FALSE(store->lookup_memoized(key, kT0 + 61s));
    REQUIRE(store->lookup(key, kT0 + 61s));
    CHECK(store->index().file(digest)->last_access == kT0 + 61s);
    CHECK(store->lookup_memoized(key, kT0 + 62s));
  }
  SECTION("a changed entry is seen at once") {
    REQUIRE_FALSE(store_content(*store, key, make_content(1'000, 7), kT0 + 3s, kT0 + 1h));
    CHECK_FALSE(store->lookup_memoized(key, kT0 + 3s));  // forgotten by the write
    CHECK(store->lookup(key, kT0 + 3s)->entry.fresh_until == kT0 + 1h);
    CHECK(store->lookup_memoized(key, kT0 + 3s)->entry.fresh_until == kT0 + 1h);
  }
  SECTION("a file rewritten behind our back is not served from memory") {
    std::ofstream(store->blobs().blob_path(digest), std::ios::binary) << make_content(1'000, 3);
    CHECK_FALSE(store->lookup_memoized(key, kT0 + 3s));
    CHECK_FALSE(store->lookup(key, kT0 + 3s));  // and the blocking lookup finds it corrupt
  }
  SECTION("an evicted file is gone from memory too") {
    store->drop_corrupt(digest);
    CHECK_FALSE(store->lookup_memoized(key, kT0 + 3s));
  }
}

TEST_CASE("CacheStore refuses to keep a blob larger than the cache") {
  TempDir dir;
  auto store = open_store(dir, 1000);
  const auto content = make_content(1001);
  CHECK(store_content(*store, "blob/r/big", content, kT0) == make_error_code(CacheErrc::too_large));
  CHECK_FALSE(store->lookup("blob/r/big", kT0));
  CHECK(store->fills().active_fills() == 0);
  CHECK(std::filesystem::is_empty(dir.path() / "cache" / "tmp"));
}

TEST_CASE("CacheStore cleans up after a crash") {
  TempDir dir;
  const auto cache_dir = dir.path() / "cache";
  const auto kept = make_content(100, 1);
  const auto lost = make_content(200, 2);
  Digest orphan = digest_of("orphan");
  {
    auto store = open_store(dir);
    REQUIRE_FALSE(store_content(*store, "blob/r/kept", kept, kT0));
    REQUIRE_FALSE(store_content(*store, "blob/r/lost", lost, kT0));
    // What kill -9 can leave: a download in progress, a published file not yet indexed. The third
    // case, an entry whose file vanished, only arises from outside interference.
    std::ofstream(cache_dir / "tmp" / "fill-XXXX12") << "partial download";
    const auto orphan_path = store->blobs().blob_path(orphan);
    std::filesystem::create_directories(orphan_path.parent_path());
    std::ofstream(orphan_path) << "orphan";
    std::filesystem::remove(store->blobs().blob_path(digest_of(lost)));
  }
  auto store = open_store(dir);
  CHECK(std::filesystem::is_empty(cache_dir / "tmp"));  // at open, no scan needed

  const auto stats = store->reconcile();
  CHECK(stats.unindexed_files == 1);
  CHECK(stats.missing_files == 1);
  CHECK_FALSE(store->blobs().contains(orphan));
  CHECK_FALSE(store->index().get("blob/r/lost"));
  CHECK(store->lookup("blob/r/kept", kT0));
  CHECK(store->index().total_bytes() == kept.size());
  CHECK(store->index().entry_count() == 1);
}

TEST_CASE("CacheStore::open explains unusable directories") {
  TempDir dir;
  std::ofstream(dir.path() / "a-file") << "x";
  CacheSettings settings;
  settings.directory = dir.path() / "a-file" / "cache";
  CHECK_THROWS_WITH(CacheStore::open(settings), Catch::Contains(settings.directory.string()));
}

TEST_CASE("CacheStore rebuilds the index on request") {
  TempDir dir;
  {
    auto store = open_store(dir);
    REQUIRE_FALSE(store_content(*store, "blob/r/a", make_content(10), kT0));
  }
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.rebuild_index = true;
  auto store = CacheStore::open(settings);
  CHECK(store->index().entry_count() == 0);
  const auto digest = digest_of(make_content(10));
  // The file is kept, verified by reconcile() and adopted as an orphan ...
  CHECK(store->blobs().contains(digest));
  const auto stats = store->reconcile();
  CHECK(stats.adopted_files == 1);
  CHECK(stats.unindexed_files == 0);
  CHECK(store->index().entry_count() == 1);
  // ... which a lookup of that blob, through any registry, claims.
  const auto hit = store->lookup("blob/other-registry/" + digest.str(), kT0);
  REQUIRE(hit);
  CHECK(hit->entry.size == 10);
  CHECK(store->index().entry_count() == 1);
  CHECK_FALSE(store->lookup("manifest/r/x@" + digest.str(), kT0));
}

TEST_CASE("A rebuilt index does not adopt files that do not match their names") {
  TempDir dir;
  const auto digest = digest_of(make_content(10));
  {
    auto store = open_store(dir);
    REQUIRE_FALSE(store_content(*store, "blob/r/a", make_content(10), kT0));
  }
  { std::ofstream(dir.path() / "cache" / "blobs" / "sha256" / std::string(digest.hex().substr(0, 2)) /
                  std::string(digest.hex())) << "tampered!!"; }
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.rebuild_index = true;
  auto store = CacheStore::open(settings);
  const auto stats = store->reconcile();
  CHECK(stats.adopted_files == 0);
  CHECK(stats.unindexed_files == 1);
  CHECK_FALSE(store->blobs().contains(digest));
  CHECK_FALSE(store->lookup("blob/r/" + digest.str(), kT0));
}
