#include "cache/eviction.hpp"

#include "store_helpers.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <thread>

using namespace pt::cache;
using namespace pt::cache::test;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

std::unique_ptr<CacheStore> open_store(const TempDir& dir, std::uint64_t max_bytes) {
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = max_bytes;
  settings.max_inactive = std::chrono::days(1);
  return CacheStore::open(settings);
}

}  // namespace

TEST_CASE("Eviction to size keeps the total under the cap, least recently used first") {
  TempDir dir;
  auto store = open_store(dir, 10'000);
  std::vector<std::string> contents;
  for (int i = 0; i < 5; ++i) {
    contents.push_back(make_content(3'000, i + 1));
    // Stored one minute apart; blob 0 is read later, so blob 1 becomes the least recently used.
    REQUIRE_FALSE(store_content(*store, fmt::format("blob/r/{}", i), contents[i],
                                kT0 + std::chrono::minutes(i)));
    CHECK(store->index().total_bytes() <= 10'000);
    if (i == 2) REQUIRE(store->lookup("blob/r/0", kT0 + std::chrono::minutes(2) + 30s));
  }
  // 5 x 3000 bytes under a 10000 cap: three files fit, the two least recently used went.
  CHECK(store->index().total_bytes() == 9'000);
  CHECK(store->index().file_count() == 3);
  CHECK_FALSE(store->lookup("blob/r/1", kT0 + 10min));
  CHECK_FALSE(store->lookup("blob/r/2", kT0 + 10min));
  CHECK(store->lookup("blob/r/0", kT0 + 10min));
  CHECK(store->lookup("blob/r/3", kT0 + 10min));
  CHECK(store->lookup("blob/r/4", kT0 + 10min));
  CHECK_FALSE(store->blobs().contains(digest_of(contents[1])));
  CHECK_FALSE(store->blobs().contains(digest_of(contents[2])));
}

TEST_CASE("Eviction of a file drops every entry sharing it") {
  TempDir dir;
  auto store = open_store(dir, 5'000);
  const auto shared = make_content(3'000, 1);
  REQUIRE_FALSE(store_content(*store, "test/r/a:1", shared, kT0));
  REQUIRE_FALSE(store_content(*store, "manifest/r/a@x", shared, kT0));
  REQUIRE_FALSE(store_content(*store, "blob/r/other", make_content(3'000, 2), kT0 + 1min));
  CHECK(store->index().entry_count() == 1);
  CHECK_FALSE(store->index().get("test/r/a:1"));
  CHECK_FALSE(store->index().get("manifest/r/a@x"));
  CHECK(store->index().total_bytes() == 3'000);
}

TEST_CASE("Inactive eviction removes what was not read for too long") {
  TempDir dir;
  auto store = open_store(dir, 1ull << 30);
  REQUIRE_FALSE(store_content(*store, "blob/r/old", make_content(100, 1), kT0));
  REQUIRE_FALSE(store_content(*store, "blob/r/read", make_content(100, 2), kT0));
  REQUIRE_FALSE(store_content(*store, "blob/r/new", make_content(100, 3), kT0 + 20h));
  REQUIRE(store->lookup("blob/r/read", kT0 + 12h));

  const auto stats = store->evict_inactive(kT0 + 25h);  // max_inactive is one day
  CHECK(stats.files == 1);
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == 100);
  CHECK_FALSE(store->index().get("blob/r/old"));
  CHECK(store->index().get("blob/r/read"));
  CHECK(store->index().get("blob/r/new"));
  CHECK(store->evict_inactive(kT0 + 25h).files == 0);
}

TEST_CASE("Eviction policy works on the index alone") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  for (int i = 0; i < 600; ++i) {  // more than one batch of candidates
    const auto digest = *Digest::parse(fmt::format("sha256:{:064x}", i));
    REQUIRE_FALSE(index->put(IndexEntry{.key = fmt::format("k{}", i), .digest = digest, .size = 10,
                                        .created = kT0 + std::chrono::seconds(i)})
                      .error);
  }
  std::vector<Digest> removed;
  const auto stats = evict_to_size(*index, 1'000, [&](const FileRecord& victim) {
    removed.push_back(victim.digest);
    return index->remove_file(victim.digest, victim.last_access);
  });
  CHECK(stats.files == 500);
  CHECK(index->total_bytes() == 1'000);
  CHECK(removed.front() == *Digest::parse(fmt::format("sha256:{:064x}", 0)));
  CHECK(removed.back() == *Digest::parse(fmt::format("sha256:{:064x}", 499)));
}

TEST_CASE("Concurrent commits and evictions keep index and files consistent") {
  TempDir dir;
  auto store = open_store(dir, 20'000);
  constexpr int kThreads = 4;
  constexpr int kBlobsPerThread = 60;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlobsPerThread; ++i) {
        // Threads share content (seed i % 30), so the same digest is committed and evicted
        // concurrently under different keys.
        const auto content = make_content(1'000, static_cast<unsigned>(i % 30) + 1);
        const auto now = kT0 + std::chrono::minutes(i);
        if (store_content(*store, fmt::format("blob/r{}/{}", t, i), content, now)) ++failures;
        store->lookup(fmt::format("blob/r{}/{}", (t + 1) % kThreads, i - 1), now);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
  CHECK(store->index().total_bytes() <= 20'000);

  std::uint64_t bytes_on_disk = 0;
  store->blobs().for_each_blob([&](const Digest&, std::uint64_t size) { bytes_on_disk += size; });
  CHECK(bytes_on_disk == store->index().total_bytes());
  const auto repaired = store->reconcile();
  CHECK(repaired.unindexed_files == 0);
  CHECK(repaired.missing_files == 0);
  CHECK(repaired.dangling_entries == 0);
}

namespace {

std::unique_ptr<CacheStore> open_shared_store(const TempDir& dir, std::uint64_t max_bytes,
                                              std::map<std::string, double> shares) {
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = max_bytes;
  settings.registry_shares = std::move(shares);
  return CacheStore::open(settings);
}

}  // namespace

TEST_CASE("Index counts a file's bytes for every registry using it, across changes and reopening") {
  TempDir dir;
  const auto shared = make_content(1'000, 1);
  {
    auto store = open_shared_store(dir, 1ull << 30, {{"a", 1.0}});
    auto& index = store->index();
    REQUIRE_FALSE(store_content(*store, "blob/a/x", shared, kT0));
    CHECK(index.registry_bytes("a") == 1'000);
    REQUIRE_FALSE(store_content(*store, "manifest/a/app@y", shared, kT0));  // the same file again
    CHECK(index.registry_bytes("a") == 1'000);
    REQUIRE_FALSE(store_content(*store, "blob/b/x", shared, kT0));
    CHECK(index.registry_bytes("b") == 1'000);
    CHECK(index.file_registries(digest_of(shared)) == std::set<std::string>{"a", "b"});
    REQUIRE_FALSE(store_content(*store, "blob/b/z", make_content(500, 2), kT0));
    CHECK(index.registry_bytes("b") == 1'500);
    REQUIRE_FALSE(store->remove_entry("blob/b/x").error);
    CHECK(index.registry_bytes("b") == 500);
    CHECK(index.registry_bytes("a") == 1'000);
    REQUIRE_FALSE(store->remove_entry("blob/a/x").error);
    CHECK(index.registry_bytes("a") == 1'000);  // the manifest still uses it
  }
  // Reopened, the counts are rebuilt from the references.
  auto store = open_shared_store(dir, 1ull << 30, {{"a", 1.0}});
  CHECK(store->index().registry_bytes("a") == 1'000);
  CHECK(store->index().registry_bytes("b") == 500);
  store->drop_corrupt(digest_of(shared));
  CHECK(store->index().registry_bytes("a") == 0);
}

TEST_CASE("A registry over its max_share loses its least recently used files first, others stay") {
  TempDir dir;
  // Cap 10000, registry "big" may hold 40% (4000 bytes): two 1500-byte files.
  auto store = open_shared_store(dir, 10'000, {{"big", 0.4}});
  std::vector<std::string> small, big;
  for (int i = 0; i < 3; ++i) {
    small.push_back(make_content(1'000, 10 + i));
    REQUIRE_FALSE(store_content(*store, fmt::format("blob/small/{}", i), small[i], kT0 + std::chrono::minutes(i)));
  }
  for (int i = 0; i < 4; ++i) {
    big.push_back(make_content(1'500, 20 + i));
    REQUIRE_FALSE(store_content(*store, fmt::format("blob/big/{}", i), big[i], kT0 + std::chrono::minutes(10 + i)));
    CHECK(store->index().registry_bytes("big") <= 4'000);
  }
  // "small"'s files are older than all of "big"'s, yet they stay: "big" paid for its share.
  for (int i = 0; i < 3; ++i) CHECK(store->lookup(fmt::format("blob/small/{}", i), kT0 + 1h));
  CHECK_FALSE(store->index().get("blob/big/0"));
  CHECK_FALSE(store->index().get("blob/big/1"));
  CHECK(store->index().get("blob/big/2"));
  CHECK(store->index().get("blob/big/3"));
  CHECK(store->index().registry_bytes("big") == 3'000);
  CHECK(store->index().total_bytes() == 6'000);

  // gc to a smaller cap: the share is of that cap (40% of 5000 = 2000), so "big" keeps one file;
  // then the whole cache (4500 bytes) is under the cap and nothing else goes.
  const auto stats = store->evict_to_size(5'000);
  CHECK(stats.files == 1);
  CHECK_FALSE(store->index().get("blob/big/2"));
  CHECK(store->index().get("blob/big/3"));
  CHECK(store->index().registry_bytes("big") == 1'500);
  CHECK(store->index().total_bytes() == 4'500);
}
