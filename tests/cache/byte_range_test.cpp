#include "cache/byte_range.hpp"

#include <catch2/catch.hpp>

using namespace pt::cache;
using Kind = RangeRequest::Kind;

TEST_CASE("parse_range") {
  struct Row {
    std::optional<std::string> header;
    std::uint64_t size;
    Kind kind;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
  };
  const std::vector<Row> rows = {
      {std::nullopt, 100, Kind::full},
      {"bytes=0-9", 100, Kind::partial, 0, 9},
      {"bytes=10-", 100, Kind::partial, 10, 99},
      {"bytes=-10", 100, Kind::partial, 90, 99},
      {"bytes=-1000", 100, Kind::partial, 0, 99},
      {"bytes=90-1000", 100, Kind::partial, 90, 99},
      {"bytes=99-99", 100, Kind::partial, 99, 99},
      {"Bytes=5-6", 100, Kind::partial, 5, 6},
      {"bytes= 5-6", 100, Kind::partial, 5, 6},
      {"bytes=100-", 100, Kind::unsatisfiable},
      {"bytes=100-200", 100, Kind::unsatisfiable},
      {"bytes=-0", 100, Kind::unsatisfiable},
      {"bytes=0-", 0, Kind::unsatisfiable},
      {"bytes=-5", 0, Kind::unsatisfiable},
      // Malformed or unsupported: ignored, full body.
      {"bytes=0-1,5-6", 100, Kind::full},
      {"bytes=9-1", 100, Kind::full},
      {"bytes=a-b", 100, Kind::full},
      {"bytes=-", 100, Kind::full},
      {"bytes=1", 100, Kind::full},
      {"bytes=+1-2", 100, Kind::full},
      {"bytes=1--2", 100, Kind::full},
      {"items=0-1", 100, Kind::full},
      {"", 100, Kind::full},
      {"bytes=99999999999999999999-", 100, Kind::full},
  };
  for (const auto& row : rows) {
    INFO(row.header.value_or("<none>") << " size " << row.size);
    const auto parsed = parse_range(row.header ? std::optional<std::string_view>(*row.header)
                                               : std::nullopt,
                                    row.size);
    CHECK(parsed.kind == row.kind);
    if (row.kind == Kind::partial) {
      CHECK(parsed.range.first == row.first);
      CHECK(parsed.range.last == row.last);
    }
  }
}

TEST_CASE("Content-Range values") {
  CHECK(content_range({10, 19}, 100) == "bytes 10-19/100");
  CHECK(ByteRange{10, 19}.length() == 10);
  CHECK(unsatisfied_content_range(100) == "bytes */100");
}
