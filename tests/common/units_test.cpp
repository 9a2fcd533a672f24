#include "common/units.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

TEST_CASE("durations accept nginx-style units") {
  CHECK(pt::parse_duration("90") == 90s);
  CHECK(pt::parse_duration("90s") == 90s);
  CHECK(pt::parse_duration("250ms") == 250ms);
  CHECK(pt::parse_duration("5m") == 5min);
  CHECK(pt::parse_duration("2h") == 2h);
  CHECK(pt::parse_duration("60d") == 60 * 24h);
  CHECK(pt::parse_duration(" 1.5m ") == 90s);
}

TEST_CASE("bad durations are rejected with the input quoted") {
  CHECK_THROWS_WITH(pt::parse_duration("soon"), Catch::Contains("'soon'"));
  CHECK_THROWS_WITH(pt::parse_duration("5y"), Catch::Contains("unknown unit"));
  CHECK_THROWS(pt::parse_duration("-5s"));
  CHECK_THROWS(pt::parse_duration(""));
}

TEST_CASE("sizes use powers of 1024") {
  CHECK(pt::parse_size("100") == 100);
  CHECK(pt::parse_size("32g") == 32ull << 30);
  CHECK(pt::parse_size("32G") == 32ull << 30);
  CHECK(pt::parse_size("512MiB") == 512ull << 20);
  CHECK(pt::parse_size("1.5k") == 1536);
  CHECK(pt::parse_size("2t") == 2ull << 40);
  CHECK_THROWS_WITH(pt::parse_size("lots"), Catch::Contains("'lots'"));
  CHECK_THROWS(pt::parse_size("3x"));
}

TEST_CASE("sizes format for humans") {
  CHECK(pt::format_size(12) == "12 B");
  CHECK(pt::format_size(1536) == "1.5 KiB");
  CHECK(pt::format_size(32ull << 30) == "32.0 GiB");
}

TEST_CASE("a space may separate number and unit, so format_size's text reads back") {
  CHECK(pt::parse_size("12.5 GiB") == 25ull << 29);
  CHECK(pt::parse_size("0 B") == 0);
  CHECK(pt::parse_size(pt::format_size(32ull << 30)) == 32ull << 30);
  CHECK(pt::parse_duration("5 m") == 5min);
}
