#include "cache/verified_files.hpp"

#include "temp_dir.hpp"
#include "test_content.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

using namespace pt::cache;
using pt::cache::test::digest_of;
using pt::cache::test::TempDir;

namespace {
BlobReader open_reader(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return BlobReader(UniqueFd(fd), std::filesystem::file_size(path));
}
}  // namespace

TEST_CASE("A verified file stays verified until it is replaced", "[verified-files]") {
  TempDir dir;
  const auto path = dir.path() / "blob";
  std::ofstream(path) << "content";
  const auto digest = digest_of("content");
  VerifiedFiles verified;
  CHECK_FALSE(verified.contains(open_reader(path), digest));
  verified.insert(open_reader(path), digest);
  CHECK(verified.contains(open_reader(path), digest));
  CHECK_FALSE(verified.contains(open_reader(path), digest_of("other")));

  // Replaced by a new file (a new inode), as a restore or a hand edit would.
  const auto replacement = dir.path() / "new";
  std::ofstream(replacement) << "CONTENT";
  std::filesystem::rename(replacement, path);
  CHECK_FALSE(verified.contains(open_reader(path), digest));
}

TEST_CASE("The verified set is bounded", "[verified-files]") {
  TempDir dir;
  VerifiedFiles verified(2);
  for (int i = 0; i < 3; ++i) {
    const auto path = dir.path() / std::to_string(i);
    std::ofstream(path) << i;
    verified.insert(open_reader(path), digest_of(std::to_string(i)));
  }
  CHECK(verified.contains(open_reader(dir.path() / "2"), digest_of("2")));
}
