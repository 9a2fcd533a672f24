#include "cache/tar_writer.hpp"

#include "cache/tar_reader.hpp"
#include "tar_test_helpers.hpp"

#include <catch2/catch.hpp>

using namespace pt::cache;
using namespace pt::cache::test;

TEST_CASE("tar writer: what it writes, its reader reads back") {
  std::string archive;
  TarWriter writer(string_sink(archive), 1700000000);
  const std::string long_path = "blobs/sha256/" + std::string(150, 'a');
  REQUIRE_FALSE(writer.add_directory("blobs"));
  REQUIRE_FALSE(writer.add_file("oci-layout", "{}"));
  REQUIRE_FALSE(writer.begin_file(long_path, 1030));
  REQUIRE_FALSE(writer.write(std::string(1000, 'x')));
  REQUIRE_FALSE(writer.write(std::string(30, 'y')));
  REQUIRE_FALSE(writer.end_file());
  REQUIRE_FALSE(writer.add_file("empty", ""));
  REQUIRE_FALSE(writer.finish());
  CHECK(archive.size() % 512 == 0);
  CHECK(writer.bytes_written() == archive.size());

  TarReader reader(memory_source(archive));
  std::vector<std::pair<std::string, std::string>> got;
  while (auto entry = reader.next()) {
    std::string content;
    char buffer[4096];
    while (const auto n = reader.read(buffer)) content.append(buffer, n);
    got.emplace_back(entry->path, content);
  }
  REQUIRE(reader.error().empty());
  REQUIRE(got.size() == 4);
  CHECK(got[0].first == "blobs");
  CHECK(got[1] == std::pair<std::string, std::string>("oci-layout", "{}"));
  CHECK(got[2].first == long_path);
  CHECK(got[2].second == std::string(1000, 'x') + std::string(30, 'y'));
  CHECK(got[3].first == "empty");
}

TEST_CASE("tar writer: POSIX ustar headers with a valid checksum") {
  std::string archive;
  TarWriter writer(string_sink(archive));
  REQUIRE_FALSE(writer.add_file("index.json", "{}"));
  CHECK(archive.substr(257, 8) == std::string("ustar\0" "00", 8));
  CHECK(archive.substr(124, 12) == std::string("00000000002\0", 12));
  CHECK(archive[156] == '0');
}

TEST_CASE("tar writer: misuse and unsafe paths are errors, not archives") {
  std::string archive;
  TarWriter writer(string_sink(archive));
  CHECK(writer.add_file("../x", "") == std::errc::invalid_argument);
  CHECK(writer.add_file("/x", "") == std::errc::invalid_argument);
  CHECK(writer.add_file("a//b", "") == std::errc::invalid_argument);  // not normal
  CHECK(writer.write(std::string("x")) == std::errc::invalid_argument);  // no file open
  REQUIRE_FALSE(writer.begin_file("f", 2));
  CHECK(writer.write(std::string("abc")) == std::errc::invalid_argument);  // more than announced
  CHECK(writer.end_file() == std::errc::invalid_argument);  // fewer than announced
  CHECK(writer.finish() == std::errc::invalid_argument);    // a file is open
}

TEST_CASE("tar writer: the sink's errors come back") {
  TarWriter writer([](std::span<const char>) { return std::make_error_code(std::errc::no_space_on_device); });
  CHECK(writer.add_file("f", "x") == std::errc::no_space_on_device);
}

TEST_CASE("tar writer: files of 8 GiB and more get a pax size") {
  std::string archive;
  TarWriter writer(string_sink(archive));
  const std::uint64_t huge = 9ull << 30;
  REQUIRE_FALSE(writer.begin_file("big", huge));
  // Only the headers are checked: the reader announces the size from the pax record.
  TarReader reader(memory_source(archive));
  const auto entry = reader.next();
  REQUIRE(entry);
  CHECK(entry->size == huge);
}
