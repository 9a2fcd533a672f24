#include "cache/bucket_uses.hpp"
#include "cache/index.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

using namespace pt::cache;
using namespace std::chrono_literals;
using pt::cache::test::TempDir;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

IndexEntry make_entry(std::string key, std::uint64_t size) {
  return IndexEntry{.key = std::move(key),
                    .digest = *Digest::parse(fmt::format("sha256:{:064x}", 1)),
                    .size = size,
                    .created = kT0,
                    .fresh_until = kForever};
}

}  // namespace

TEST_CASE("Index keeps bucket last uses apart from the cache's records, across a reopen") {
  TempDir dir;
  {
    auto index = Index::open(dir.path() / "index");
    REQUIRE_FALSE(index->put(make_entry("blob/r/x", 100)).error);
    CHECK_FALSE(index->bucket_last_used("blobs/sha256/aa"));
    REQUIRE_FALSE(index->put_bucket_last_used("blobs/sha256/aa", kT0));
    REQUIRE_FALSE(index->put_bucket_last_used("tags/bb", kT0 + 5s));
    REQUIRE_FALSE(index->put_bucket_last_used("blobs/sha256/aa", kT0 + 9s));  // replaced
    CHECK(index->bucket_last_used("blobs/sha256/aa") == kT0 + 9s);
    // Outside the totals: the cache's size is its files alone.
    CHECK(index->total_bytes() == 100);
    CHECK(index->entry_count() == 1);
  }
  auto index = Index::open(dir.path() / "index");
  CHECK(index->total_bytes() == 100);
  std::vector<std::pair<std::string, Timestamp>> seen;
  index->for_each_bucket_last_used([&seen](std::string_view key, Timestamp when) {
    seen.emplace_back(std::string(key), when);
    return true;
  });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::pair<std::string, Timestamp>{"blobs/sha256/aa", kT0 + 9s});
  CHECK(seen[1] == std::pair<std::string, Timestamp>{"tags/bb", kT0 + 5s});
  REQUIRE_FALSE(index->forget_bucket_last_used("tags/bb"));
  CHECK_FALSE(index->bucket_last_used("tags/bb"));
  // A reader of the live index sees the records (`cache bucket-gc` next to a running proxy).
  auto reader = Index::open_reader(dir.path() / "index");
  CHECK(reader->bucket_last_used("blobs/sha256/aa") == kT0 + 9s);
  CHECK(reader->put_bucket_last_used("x", kT0));  // read-only
}

TEST_CASE("BucketUses writes a key's use at most once per interval, and remembers the latest in memory") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  BucketUses uses(*index, 1h);
  CHECK(uses.note("blobs/sha256/aa", kT0));  // first use: due
  REQUIRE_FALSE(uses.record("blobs/sha256/aa", kT0));
  CHECK_FALSE(uses.note("blobs/sha256/aa", kT0 + 10min));  // a hot key costs no write
  CHECK_FALSE(uses.note("blobs/sha256/aa", kT0 + 59min));
  // The snapshot has the latest use nonetheless.
  auto snapshot = uses.snapshot();
  CHECK(snapshot.at("blobs/sha256/aa") == kT0 + 59min);
  CHECK(index->bucket_last_used("blobs/sha256/aa") == kT0);
  CHECK(uses.note("blobs/sha256/aa", kT0 + 61min));  // an hour after the last write: due again
  CHECK_FALSE(uses.note("blobs/sha256/aa", kT0 + 90min));

  // A restart keeps the durable records (what memory had since is lost: at most an interval).
  BucketUses restarted(*index, 1h);
  CHECK(restarted.snapshot().at("blobs/sha256/aa") == kT0);
}

TEST_CASE("BucketUses forgets objects that left the bucket, and starts over when its memory is full") {
  TempDir dir;
  auto index = Index::open(dir.path() / "index");
  BucketUses uses(*index, 1h, 2);
  for (const char* key : {"a", "b"}) {
    REQUIRE(uses.note(key, kT0));
    REQUIRE_FALSE(uses.record(key, kT0));
  }
  CHECK_FALSE(uses.note("a", kT0 + 1s));
  CHECK(uses.note("c", kT0 + 2s));  // full: memory cleared, "c" due
  CHECK(uses.note("a", kT0 + 3s));  // forgotten in memory: due again (one more write)
  uses.forget({"a", "b"});
  const auto snapshot = uses.snapshot();
  CHECK_FALSE(snapshot.contains("a"));
  CHECK_FALSE(snapshot.contains("b"));
  CHECK(snapshot.at("c") == kT0 + 2s);  // noted, never recorded: memory alone
}
