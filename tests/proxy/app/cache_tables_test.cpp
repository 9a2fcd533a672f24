#include "proxy/app/cache_tables.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace pt;
using namespace std::chrono_literals;

namespace {

const cache::Timestamp kT0(std::chrono::seconds(1'700'000'000));

cache::Digest digest_of(char hex) { return *cache::Digest::parse("sha256:" + std::string(64, hex)); }

}  // namespace

TEST_CASE("cache ls lays rows out in aligned columns, untagged rows as <none>, ages relative to now") {
  std::vector<cache::ImageRow> rows = {
      {.registry = "registry.test:5000", .repository = "library/app", .tag = "1.0", .digest = digest_of('a'),
       .size = 3 << 20, .blobs_cached = 3, .blobs_referenced = 4, .last_access = kT0},
      {.registry = "quay.io", .repository = "org/tool", .digest = digest_of('b'), .size = 512,
       .last_access = kT0 + 2h + 59min},
  };
  const auto table = app::format_rows(rows, kT0 + 3h);
  CHECK(table.starts_with("REPOSITORY"));
  CHECK_THAT(table, Catch::Contains("registry.test:5000/library/app  1.0"));
  CHECK_THAT(table, Catch::Contains("quay.io/org/tool                <none>"));
  CHECK_THAT(table, Catch::Contains("sha256:aaaaaaaaaaaa"));
  CHECK_THAT(table, Catch::Contains("3/4"));
  CHECK_THAT(table, Catch::Contains("3h ago"));
  CHECK_THAT(table, Catch::Contains("60s ago"));
  CHECK(table.find(" \n") == std::string::npos);  // no trailing blanks
}

TEST_CASE("cache stats gives the totals, then a line per registry") {
  cache::CacheStats stats{.total_bytes = 1 << 19, .files = 4, .entries = 6,
                          .registries = {{.registry = "registry.test:5000", .repositories = 2, .tags = 1,
                                          .manifests = 2, .blobs = 5, .blob_bytes = 1657, .manifest_bytes = 900,
                                          .unreferenced_blobs = 1, .unreferenced_bytes = 7}}};
  const auto text = app::format_stats(stats, 1 << 20);
  CHECK_THAT(text, Catch::StartsWith("total: 512.0 KiB in 4 file(s), 6 index entries; cap 1.0 MiB (50.0% used)"));
  CHECK_THAT(text, Catch::Contains("registry.test:5000"));
  CHECK_THAT(text, Catch::Contains("1 (7 B)"));
  CHECK_THAT(app::format_stats({}, 0), Catch::EndsWith("the cache is empty\n"));
}
