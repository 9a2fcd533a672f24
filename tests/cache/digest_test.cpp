#include "cache/digest.hpp"

#include <catch2/catch.hpp>

#include <string>

using pt::cache::Digest;
using pt::cache::Sha256;

namespace {
std::string sha256_of(std::string_view text) {
  Sha256 hasher;
  hasher.update(text);
  return hasher.finish().str();
}
}  // namespace

TEST_CASE("Sha256 matches the standard test vectors") {
  CHECK(sha256_of("") ==
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_of("abc") ==
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Sha256 gives the same digest however the input is split") {
  const std::string text(100000, 'x');
  Sha256 chunked;
  for (std::size_t i = 0; i < text.size(); i += 777) {
    chunked.update(std::string_view(text).substr(i, 777));
  }
  CHECK(chunked.finish().str() == sha256_of(text));
}

TEST_CASE("Digest::parse accepts only sha256 with 64 lower-case hex digits") {
  const std::string hex(64, 'a');
  const auto digest = Digest::parse("sha256:" + hex);
  REQUIRE(digest);
  CHECK(digest->hex() == hex);
  CHECK(digest->str() == "sha256:" + hex);

  CHECK_FALSE(Digest::parse(""));
  CHECK_FALSE(Digest::parse(hex));
  CHECK_FALSE(Digest::parse("sha256:" + hex.substr(1)));
  CHECK_FALSE(Digest::parse("sha256:" + hex + "a"));
  CHECK_FALSE(Digest::parse("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(Digest::parse("sha256:" + std::string(63, 'a') + "g"));
  CHECK_FALSE(Digest::parse("sha256:" + std::string(62, 'a') + "/."));
  CHECK_FALSE(Digest::parse("SHA256:" + hex));
  CHECK_FALSE(Digest::parse("sha512:" + hex + hex));
}

TEST_CASE("looks_like_digest follows the OCI digest grammar") {
  CHECK(pt::cache::looks_like_digest("sha512:abc"));
  CHECK(pt::cache::looks_like_digest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDe"));
  CHECK_FALSE(pt::cache::looks_like_digest("latest"));
  CHECK_FALSE(pt::cache::looks_like_digest(":abc"));
  CHECK_FALSE(pt::cache::looks_like_digest("sha256:"));
  CHECK_FALSE(pt::cache::looks_like_digest("+sha:abc"));
  CHECK_FALSE(pt::cache::looks_like_digest("sha256:ab/cd"));
}
