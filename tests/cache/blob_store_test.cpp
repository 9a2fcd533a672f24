#include "cache/blob_store.hpp"

#include "cache/cache_error.hpp"
#include "temp_dir.hpp"
#include "test_content.hpp"

#include <fcntl.h>

#include <catch2/catch.hpp>

#include <fstream>

using namespace pt::cache;
using namespace pt::cache::test;

namespace {

std::size_t count_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& item : std::filesystem::recursive_directory_iterator(dir)) {
    n += item.is_regular_file() ? 1 : 0;
  }
  return n;
}

std::string read_all(const BlobReader& reader) {
  std::string out(reader.size(), '\0');
  std::error_code ec;
  const auto n = reader.read_at(0, out, ec);
  REQUIRE_FALSE(ec);
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("BlobWriter publishes verified content under its digest") {
  TempDir dir;
  BlobStore store(dir.path());
  const auto content = make_content(300'000);
  const auto digest = digest_of(content);

  std::error_code ec;
  auto writer = store.begin_write(ec);
  REQUIRE(writer);
  for (std::size_t i = 0; i < content.size(); i += 4096) {
    REQUIRE_FALSE(writer->write(std::string_view(content).substr(i, 4096)));
  }
  CHECK(writer->bytes_written() == content.size());
  CHECK_FALSE(store.contains(digest));  // nothing visible before publish
  REQUIRE_FALSE(writer->publish(digest));
  CHECK(writer->published());

  CHECK(store.contains(digest));
  CHECK(store.blob_path(digest) ==
        dir.path() / "blobs" / "sha256" / std::string(digest.hex().substr(0, 2)) /
            std::string(digest.hex()));
  auto reader = store.open(digest, ec);
  REQUIRE(reader);
  CHECK(reader->size() == content.size());
  CHECK(read_all(*reader) == content);
  CHECK_FALSE(verify_content(*reader, digest));
  CHECK(count_files(dir.path() / "tmp") == 0);

  std::string middle(10, '\0');
  CHECK(reader->read_at(1000, middle, ec) == 10);
  CHECK(middle == content.substr(1000, 10));
  CHECK(reader->read_at(content.size(), middle, ec) == 0);
}

TEST_CASE("BlobWriter never publishes content that does not match") {
  TempDir dir;
  BlobStore store(dir.path());
  const auto content = make_content(5000);
  const auto digest = digest_of(content);
  std::error_code ec;

  SECTION("wrong bytes") {
    auto writer = store.begin_write(ec);
    REQUIRE_FALSE(writer->write(make_content(5000, 2)));
    CHECK(writer->publish(digest) == make_error_code(CacheErrc::digest_mismatch));
  }
  SECTION("truncated") {
    auto writer = store.begin_write(ec);
    REQUIRE_FALSE(writer->write(std::string_view(content).substr(0, 4000)));
    CHECK(writer->publish(digest) == make_error_code(CacheErrc::digest_mismatch));
  }
  SECTION("dropped before publishing") {
    auto writer = store.begin_write(ec);
    REQUIRE_FALSE(writer->write(content));
    REQUIRE(count_files(dir.path() / "tmp") == 1);
  }
  CHECK_FALSE(store.contains(digest));
  CHECK(count_files(dir.path()) == 0);
}

TEST_CASE("BlobWriter reports a full disk as an error value") {
  TempDir dir;
  BlobWriter writer(UniqueFd(::open("/dev/full", O_WRONLY | O_CLOEXEC)), dir.path() / "unused",
                    dir.path());
  CHECK(writer.write(make_content(100)) == std::errc::no_space_on_device);
}

TEST_CASE("BlobStore cleans temporary files and junk") {
  TempDir dir;
  BlobStore store(dir.path());
  std::ofstream(dir.path() / "tmp" / "fill-abc123") << "partial";
  std::filesystem::create_directories(dir.path() / "tmp" / "stray-dir");
  CHECK(store.clear_temp() == 2);
  CHECK(count_files(dir.path() / "tmp") == 0);

  const auto content = make_content(10);
  const auto digest = digest_of(content);
  std::error_code ec;
  auto writer = store.begin_write(ec);
  REQUIRE_FALSE(writer->write(content));
  REQUIRE_FALSE(writer->publish(digest));
  const auto shard = store.blob_path(digest).parent_path();
  std::ofstream(shard / "not-a-digest") << "x";
  std::ofstream(dir.path() / "blobs" / "sha256" / "stray") << "x";
  // A valid name in the wrong shard is not ours either.
  const std::string misplaced(64, shard.filename().string() == "00" ? '1' : '0');
  std::ofstream(shard / misplaced) << "x";

  std::vector<std::string> seen;
  const auto junk = store.for_each_blob([&](const Digest& found, std::uint64_t size) {
    seen.push_back(found.str());
    CHECK(size == content.size());
  });
  CHECK(junk == 3);
  CHECK(seen == std::vector{digest.str()});
}

TEST_CASE("BlobStore detects corruption and removes blobs") {
  TempDir dir;
  BlobStore store(dir.path());
  const auto content = make_content(1000);
  const auto digest = digest_of(content);
  std::error_code ec;
  auto writer = store.begin_write(ec);
  REQUIRE_FALSE(writer->write(content));
  REQUIRE_FALSE(writer->publish(digest));

  {
    std::fstream file(store.blob_path(digest), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(500);
    file.put('!');
  }
  auto reader = store.open(digest, ec);
  REQUIRE(reader);
  CHECK(verify_content(*reader, digest) == make_error_code(CacheErrc::corrupt_blob));

  // Removing a blob that is open for reading is safe: the reader keeps its bytes.
  REQUIRE_FALSE(store.remove(digest));
  CHECK_FALSE(store.contains(digest));
  CHECK(read_all(*reader).size() == content.size());
  CHECK_FALSE(store.remove(digest));  // already gone is fine
  CHECK_FALSE(store.open(digest, ec));
  CHECK(ec == std::errc::no_such_file_or_directory);
}
