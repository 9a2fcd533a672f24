#include "cache/tar_reader.hpp"

#include "tar_test_helpers.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

using namespace pt::cache;
using namespace pt::cache::test;

namespace {

struct Read {
  std::vector<TarEntry> entries;
  std::vector<std::string> contents;
  std::string error;
};

Read read_all(const std::string& archive, TarLimits limits = {}, std::size_t chunk = 1 << 20) {
  Read out;
  TarReader reader(memory_source(archive, chunk), limits);
  while (auto entry = reader.next()) {
    std::string content;
    char buffer[7];  // odd sizes: content is read in pieces
    while (const auto n = reader.read(buffer)) content.append(buffer, n);
    out.entries.push_back(*entry);
    out.contents.push_back(content);
  }
  out.error = reader.error();
  return out;
}

std::string file(std::string_view name, std::string_view content, char type = '0') {
  return tar_header(name, type, content.size()) + tar_padded(content);
}

std::string pax(std::string_view records) { return file("PaxHeaders/x", records, 'x'); }

}  // namespace

TEST_CASE("tar reader: files and directories, content streamed in pieces") {
  const auto archive = tar_header("blobs/", '5', 0) + file("blobs/a", "hello") + file("./b//c", std::string(1000, 'x')) +
                       file("empty", "") + tar_end();
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{511}, std::size_t{1} << 20}) {
    const auto read = read_all(archive, {}, chunk);
    REQUIRE(read.error.empty());
    REQUIRE(read.entries.size() == 4);
    CHECK(read.entries[0].path == "blobs");
    CHECK(read.entries[0].type == TarEntry::Type::directory);
    CHECK(read.entries[1].path == "blobs/a");
    CHECK(read.contents[1] == "hello");
    CHECK(read.entries[2].path == "b/c");
    CHECK(read.contents[2] == std::string(1000, 'x'));
    CHECK(read.entries[3].size == 0);
  }
}

TEST_CASE("tar reader: unread content is skipped by next()") {
  const auto archive = file("a", std::string(3000, 'a')) + file("b", "bee") + tar_end();
  TarReader reader(memory_source(archive));
  REQUIRE(reader.next()->path == "a");
  const auto b = reader.next();
  REQUIRE(b);
  char buffer[16];
  CHECK(std::string(buffer, reader.read(buffer)) == "bee");
  CHECK_FALSE(reader.next());
  CHECK(reader.error().empty());
}

TEST_CASE("tar reader: one zero block then the end of the input is an end too") {
  const auto read = read_all(file("a", "x") + std::string(512, '\0'));
  CHECK(read.error.empty());
  CHECK(read.entries.size() == 1);
}

TEST_CASE("tar reader: pax headers and GNU long names set path and size") {
  const std::string long_name = "blobs/sha256/" + std::string(120, 'e');
  const auto archive = pax("25 path=a/very/long/name\n") + file("short", "12345") + file("././L", long_name + '\0', 'L') +
            file("ignored", "abc") + file("g", "20 comment=anything\n", 'g') + file("plain", "p") + tar_end();
  const auto read = read_all(archive);
  REQUIRE(read.error.empty());
  REQUIRE(read.entries.size() == 3);
  CHECK(read.entries[0].path == "a/very/long/name");
  CHECK(read.contents[0] == "12345");
  CHECK(read.entries[1].path == long_name);
  CHECK(read.entries[2].path == "plain");
}

TEST_CASE("tar reader: a pax size overrides the header's") {
  // Header says 0 bytes, pax says 3: the reader follows pax, as GNU tar does.
  const auto archive = pax("10 size=3\n") + tar_header("f", '0', 0) + tar_padded("abc") + tar_end();
  const auto read = read_all(archive);
  REQUIRE(read.error.empty());
  CHECK(read.contents.at(0) == "abc");
}

TEST_CASE("tar reader: links, devices, FIFOs and unknown types are refused, naming the entry") {
  for (const auto& [type, words] : std::vector<std::pair<char, std::string>>{{'1', "hard link"},
                                                                             {'2', "symbolic link"},
                                                                             {'3', "character device"},
                                                                             {'4', "block device"},
                                                                             {'6', "FIFO"},
                                                                             {'S', "unsupported type"}}) {
    const auto read = read_all(file("ok", "1") + tar_header("blobs/sha256/link", type, 0) + tar_end());
    CHECK(read.entries.size() == 1);
    CHECK_THAT(read.error, Catch::Contains(words) && Catch::Contains("blobs/sha256/link"));
  }
}

TEST_CASE("tar reader: paths that are absolute or climb are refused") {
  for (const std::string path : {"../evil", "/etc/passwd", "blobs/../../x", "a/..", "..", "./", "a\x01"}) {
    const auto read = read_all(file(path, "x") + tar_end());
    INFO(path);
    CHECK(read.entries.empty());
    CHECK_THAT(read.error, Catch::Contains("unsafe path"));
  }
  // Also through pax and GNU long names, which bypass the 100-byte field.
  CHECK_THAT(read_all(pax("19 path=../../evil\n") + file("innocent", "x") + tar_end()).error,
             Catch::Contains("unsafe path"));
  CHECK_THAT(read_all(file("././@LongLink", "/abs\0", 'L') + file("innocent", "x") + tar_end()).error,
             Catch::Contains("unsafe path"));
}

TEST_CASE("tar reader: truncated archives are refused") {
  const auto whole = file("a", std::string(2000, 'a')) + file("b", "b") + tar_end();
  // Cut inside a header, inside content, at an entry boundary without the end marker.
  for (const std::size_t cut : {std::size_t{100}, std::size_t{512 + 700}, std::size_t{512 + 2048}, std::size_t{512 + 2048 + 512 + 512}}) {
    INFO(cut);
    const auto read = read_all(whole.substr(0, cut));
    CHECK_THAT(read.error, Catch::Contains("truncated"));
  }
  CHECK_THAT(read_all("").error, Catch::Contains("truncated"));
}

TEST_CASE("tar reader: bad checksums, malformed sizes and pax records are refused") {
  CHECK_THAT(read_all(tar_header("a", '0', 0, true) + tar_end()).error, Catch::Contains("checksum"));
  CHECK_THAT(read_all(std::string(512, 'x') + tar_end()).error, Catch::Contains("checksum"));
  for (const std::string records : {"5 a=b\n", "99 path=x\n", "x path=y\n", "9 path=x", "10 novalue\n", "11 size=1x\n"}) {
    INFO(records);
    CHECK_FALSE(read_all(pax(records) + file("f", "") + tar_end()).error.empty());
  }
  auto bad_size = tar_header("a", '0', 0);
  bad_size[125] = '9';
  // (The checksum is recomputed so that only the size is wrong.)
  std::memset(bad_size.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : bad_size) sum += static_cast<unsigned char>(c);
  const auto text = fmt::format("{:06o}", sum);
  std::memcpy(bad_size.data() + 148, text.data(), 6);
  bad_size[154] = '\0';
  CHECK_THAT(read_all(bad_size + tar_end()).error, Catch::Contains("malformed size"));
}

TEST_CASE("tar reader: limits") {
  TarLimits limits;
  limits.max_entries = 2;
  CHECK_THAT(read_all(file("a", "") + file("b", "") + file("c", "") + tar_end(), limits).error,
             Catch::Contains("more than 2 entries"));
  limits = {};
  limits.max_extended_header_bytes = 10;
  CHECK_THAT(read_all(pax("25 path=a/very/long/name\n") + file("f", "") + tar_end(), limits).error,
             Catch::Contains("pax extended header"));
  limits = {};
  limits.max_entry_bytes = 4;
  CHECK_THAT(read_all(file("f", "12345") + tar_end(), limits).error, Catch::Contains("more than the limit"));
  limits = {};
  limits.max_path_bytes = 3;
  CHECK_THAT(read_all(file("long", "") + tar_end(), limits).error, Catch::Contains("path longer"));
}

TEST_CASE("tar reader: an extended header must be followed by its entry") {
  CHECK_THAT(read_all(pax("10 size=3\n") + tar_end()).error, Catch::Contains("extended header"));
}

TEST_CASE("tar reader: errors of the source are reported") {
  TarReader reader([](std::span<char>, std::error_code& ec) -> std::size_t {
    ec = std::make_error_code(std::errc::io_error);
    return 0;
  });
  CHECK_FALSE(reader.next());
  CHECK_THAT(reader.error(), Catch::Contains("cannot read the archive"));
}

TEST_CASE("tar reader: numeric fields") {
  using tar_detail::parse_number;
  const auto parse = [](std::string_view text) { return parse_number(std::span(text.data(), text.size())); };
  CHECK(parse("0000644\0") == 0644u);
  CHECK(parse("  644 ") == 0644u);
  CHECK(parse(std::string_view("\0\0\0\0", 4)) == 0u);
  CHECK(parse("") == 0u);
  CHECK_FALSE(parse("0008"));
  CHECK_FALSE(parse("12 3"));
  CHECK_FALSE(parse("77777777777777777777777"));  // over 64 bits
  const char base256[12] = {'\x80', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  CHECK(parse_number(base256) == 256u);
  const char negative[12] = {'\xff', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(parse_number(negative));
  const char too_big[12] = {'\x80', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(parse_number(too_big));
}

TEST_CASE("tar reader: path normalisation") {
  using tar_detail::normalise_path;
  CHECK(normalise_path("./a/./b/") == "a/b");
  CHECK(normalise_path("a//b") == "a/b");
  CHECK(normalise_path("blobs/sha256/ab") == "blobs/sha256/ab");
  CHECK_FALSE(normalise_path(""));
  CHECK_FALSE(normalise_path("."));
  CHECK_FALSE(normalise_path("/a"));
  CHECK_FALSE(normalise_path("a/../b"));
  CHECK_FALSE(normalise_path(std::string_view("a\0b", 3)));
}
