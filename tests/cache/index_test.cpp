#include "cache/index.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

using namespace pt::cache;
using namespace std::chrono_literals;
using pt::cache::test::TempDir;

namespace {

Digest digest_n(int n) { return *Digest::parse(fmt::format("sha256:{:064x}", n)); }

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

IndexEntry make_entry(std::string key, int file, std::uint64_t size, Timestamp created = kT0) {
  return IndexEntry{.key = std::move(key),
                    .digest = digest_n(file),
                    .size = size,
                    .media_type = "application/octet-stream",
                    .headers = {{"Docker-Content-Digest", digest_n(file).str()}},
                    .created = created,
                    .fresh_until = kForever};
}

}  // namespace

TEST_CASE("Index stores, replaces and removes entries") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  CHECK(index->entry_count() == 0);
  CHECK_FALSE(index->get("blob/r/x"));

  auto entry = make_entry("blob/r/x", 1, 100);
  entry.fresh_until = kT0 + 60s;
  REQUIRE_FALSE(index->put(entry).error);
  const auto stored = index->get("blob/r/x");
  REQUIRE(stored);
  CHECK(stored->digest == digest_n(1));
  CHECK(stored->size == 100);
  CHECK(stored->media_type == "application/octet-stream");
  CHECK(stored->headers == entry.headers);
  CHECK(stored->created == kT0);
  CHECK(stored->fresh_until == kT0 + 60s);
  CHECK(stored->last_access == kT0);
  CHECK(index->total_bytes() == 100);
  CHECK(index->entry_count() == 1);
  CHECK(index->file_count() == 1);

  SECTION("replacing with other content releases the old file") {
    const auto change = index->put(make_entry("blob/r/x", 2, 30));
    REQUIRE(change.released_file);
    CHECK(*change.released_file == digest_n(1));
    CHECK(index->total_bytes() == 30);
    CHECK(index->entry_count() == 1);
    CHECK(index->file_count() == 1);
    CHECK_FALSE(index->file(digest_n(1)));
  }
  SECTION("replacing with the same content changes no totals") {
    const auto change = index->put(make_entry("blob/r/x", 1, 100));
    CHECK_FALSE(change.released_file);
    CHECK(index->total_bytes() == 100);
    CHECK(index->file(digest_n(1))->references == 1);
  }
  SECTION("remove releases the file") {
    const auto change = index->remove("blob/r/x");
    REQUIRE(change.released_file);
    CHECK(index->total_bytes() == 0);
    CHECK(index->entry_count() == 0);
    CHECK(index->file_count() == 0);
    CHECK_FALSE(index->get("blob/r/x"));
    CHECK_FALSE(index->remove("blob/r/x").released_file);  // absent: nothing to do
  }
}

TEST_CASE("Index counts a shared file once") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  REQUIRE_FALSE(index->put(make_entry("test/r/a:latest", 7, 500)).error);
  REQUIRE_FALSE(index->put(make_entry("manifest/r/a@d7", 7, 500)).error);
  REQUIRE_FALSE(index->put(make_entry("blob/other/d7", 7, 500)).error);
  CHECK(index->total_bytes() == 500);
  CHECK(index->entry_count() == 3);
  CHECK(index->file_count() == 1);
  CHECK(index->file(digest_n(7))->references == 3);

  CHECK_FALSE(index->remove("test/r/a:latest").released_file);
  CHECK(index->total_bytes() == 500);
  CHECK(index->file(digest_n(7))->references == 2);

  SECTION("removing the file drops every entry using it") {
    const auto removal = index->remove_file(digest_n(7));
    CHECK(removal.removed);
    CHECK(removal.entries == 2);
    CHECK(removal.bytes == 500);
    CHECK(index->entry_count() == 0);
    CHECK(index->total_bytes() == 0);
    CHECK_FALSE(index->get("manifest/r/a@d7"));
    CHECK_FALSE(index->get("blob/other/d7"));
  }
  SECTION("the last reference releases it") {
    CHECK_FALSE(index->remove("manifest/r/a@d7").released_file);
    CHECK(index->remove("blob/other/d7").released_file);
    CHECK(index->total_bytes() == 0);
  }
}

TEST_CASE("Index persists across reopen") {
  TempDir dir;
  {
    auto index = Index::open(dir.path() / "index");
    REQUIRE_FALSE(index->put(make_entry("a", 1, 10)).error);
    REQUIRE_FALSE(index->put(make_entry("b", 2, 20)).error);
    REQUIRE_FALSE(index->put(make_entry("c", 2, 20)).error);
  }
  auto index = Index::open(dir.path() / "index");
  CHECK(index->total_bytes() == 30);
  CHECK(index->entry_count() == 3);
  CHECK(index->file_count() == 2);
  REQUIRE(index->get("b"));
  CHECK(index->get("b")->size == 20);
  std::vector<std::string> keys;
  index->for_each_entry([&](const IndexEntry& entry) {
    keys.push_back(entry.key);
    return true;
  });
  CHECK(keys == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("Index keeps BLOB_STORE's pending uploads across reopen, apart from the content") {
  TempDir dir;
  using Pending = std::vector<std::pair<std::string, std::string>>;
  auto pending = [](const Index& index) {
    Pending out;
    index.for_each_pending_upload([&](std::string_view id, std::string_view note) {
      out.emplace_back(id, note);
      return true;
    });
    return out;
  };
  {
    auto index = Index::open(dir.path() / "index");
    REQUIRE_FALSE(index->put(make_entry("a", 1, 10)).error);
    REQUIRE_FALSE(index->add_pending_upload("sha256:bb", "application/vnd.oci.image.layer.v1.tar"));
    REQUIRE_FALSE(index->add_pending_upload("sha256:aa", ""));
    REQUIRE_FALSE(index->add_pending_upload("tag:tag/registry.test/app:1", ""));
    REQUIRE_FALSE(index->remove_pending_upload("sha256:aa"));
    REQUIRE_FALSE(index->remove_pending_upload("sha256:never-added"));  // nothing to remove is no error
  }
  auto index = Index::open(dir.path() / "index");
  CHECK(pending(*index) == Pending{{"sha256:bb", "application/vnd.oci.image.layer.v1.tar"},
                                   {"tag:tag/registry.test/app:1", ""}});
  // The notes are not content: the totals and the entries are as before.
  CHECK(index->total_bytes() == 10);
  CHECK(index->entry_count() == 1);
  std::size_t visited = 0;
  index->for_each_pending_upload([&](std::string_view, std::string_view) { return ++visited < 1; });
  CHECK(visited == 1);  // stopped when asked
}

TEST_CASE("Index orders files by last access and coalesces touches") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  REQUIRE_FALSE(index->put(make_entry("old", 1, 1, kT0)).error);
  REQUIRE_FALSE(index->put(make_entry("mid", 2, 1, kT0 + 10s)).error);
  REQUIRE_FALSE(index->put(make_entry("new", 3, 1, kT0 + 20s)).error);

  const auto order = [&] {
    std::vector<Digest> digests;
    for (const auto& file : index->oldest_files(10)) digests.push_back(file.digest);
    return digests;
  };
  CHECK(order() == std::vector{digest_n(1), digest_n(2), digest_n(3)});
  CHECK(index->oldest_files(1).size() == 1);

  // Within the granularity (60 s) a touch writes nothing.
  REQUIRE_FALSE(index->touch(*index->get("old"), kT0 + 59s));
  CHECK(index->get("old")->last_access == kT0);
  CHECK(order().front() == digest_n(1));

  // Past it, the file moves to the back of the LRU order.
  REQUIRE_FALSE(index->touch(*index->get("old"), kT0 + 61s));
  CHECK(index->get("old")->last_access == kT0 + 61s);
  CHECK(order() == std::vector{digest_n(2), digest_n(3), digest_n(1)});

  // A conditional removal of a file touched since it was chosen does nothing.
  CHECK_FALSE(index->remove_file(digest_n(1), kT0).removed);
  CHECK(index->remove_file(digest_n(1), kT0 + 61s).removed);
  CHECK(order() == std::vector{digest_n(2), digest_n(3)});
}

TEST_CASE("Index reports a corrupt database with the path and a hint") {
  TempDir dir;
  const auto path = dir.path() / "index";
  { auto index = Index::open(path); }
  for (const auto& item : std::filesystem::directory_iterator(path)) {
    if (item.path().filename().string().starts_with("MANIFEST-")) {
      std::ofstream(item.path(), std::ios::trunc) << "garbage garbage garbage";
    }
  }
  try {
    Index::open(path);
    FAIL("open should have thrown");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains(path.string()));
    CHECK_THAT(message, Catch::Contains("--rebuild-index"));
  }
  Index::destroy(path);
  CHECK(Index::open(path)->entry_count() == 0);
}

TEST_CASE("Index with 100k entries reopens fast") {
  TempDir dir;
  const auto path = dir.path() / "index";
  constexpr int kEntries = 100'000;
  {
    auto index = Index::open(path);
    for (int i = 0; i < kEntries; ++i) {
      REQUIRE_FALSE(index->put(make_entry(fmt::format("blob/registry/{}", i), i, 1000,
                                          kT0 + std::chrono::seconds(i)))
                        .error);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto index = Index::open(path);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  WARN("reopening a 100k-entry index took " << ms << " ms");
  CHECK(index->entry_count() == kEntries);
  CHECK(index->total_bytes() == std::uint64_t{kEntries} * 1000);
  CHECK(index->oldest_files(1).front().digest == digest_n(0));
  CHECK(elapsed < 5s);
}

// Runs in a child process (see below): fills an index, then dies without closing it, as kill -9
// would, so the parent measures the worst case: replaying the write-ahead log.
TEST_CASE("index crash writer", "[.crash-writer]") {
  const char* path = std::getenv("PT_CACHE_TEST_INDEX");
  REQUIRE(path);
  auto index = Index::open(path);
  for (int i = 0; i < 100'000; ++i) {
    REQUIRE_FALSE(index->put(make_entry(fmt::format("blob/registry/{}", i), i, 1000)).error);
  }
  std::_Exit(0);
}

TEST_CASE("Index with 100k entries reopens fast after kill -9") {
  TempDir dir;
  const auto path = dir.path() / "index";
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  const auto command = fmt::format("PT_CACHE_TEST_INDEX='{}' '{}' '[.crash-writer]' >/dev/null",
                                   path.string(), self.string());
  REQUIRE(std::system(command.c_str()) == 0);

  const auto start = std::chrono::steady_clock::now();
  auto index = Index::open(path);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  WARN("reopening a 100k-entry index after kill -9 (WAL replay) took " << ms << " ms");
  CHECK(index->entry_count() == 100'000);
  CHECK(index->total_bytes() == 100'000ull * 1000);
  CHECK(elapsed < 5s);
}

TEST_CASE("Index memo never serves an entry the index no longer holds") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  REQUIRE_FALSE(index->put(make_entry("tag", 1, 10, kT0)).error);
  REQUIRE(index->get("tag"));  // decoded once, memoized
  REQUIRE(index->get_memoized("tag"));
  CHECK(index->get_memoized("tag")->digest == digest_n(1));

  SECTION("replaced") {
    REQUIRE_FALSE(index->put(make_entry("tag", 2, 20, kT0 + 1s)).error);
    CHECK_FALSE(index->get_memoized("tag"));
    CHECK(index->get("tag")->digest == digest_n(2));
    CHECK(index->get_memoized("tag")->digest == digest_n(2));
  }
  SECTION("removed") {
    REQUIRE_FALSE(index->remove("tag").error);
    CHECK_FALSE(index->get_memoized("tag"));
    CHECK_FALSE(index->get("tag"));
  }
  SECTION("its file removed") {
    REQUIRE(index->remove_file(digest_n(1)).removed);
    CHECK_FALSE(index->get_memoized("tag"));
    CHECK_FALSE(index->get("tag"));
  }
  SECTION("touched: the memo learns the new access time, without a read when none is due") {
    REQUIRE_FALSE(index->touch(*index->get("tag"), kT0 + 61s));
    CHECK(index->get_memoized("tag")->last_access == kT0 + 61s);
    CHECK_FALSE(index->access_due(*index->get_memoized("tag"), kT0 + 62s));
    CHECK(index->access_due(*index->get_memoized("tag"), kT0 + 122s));
  }
}
