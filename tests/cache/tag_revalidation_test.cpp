#include "cache/cache_policy.hpp"

#include "cache/manifest_negotiation.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

Digest digest_n(int n) { return *Digest::parse(fmt::format("sha256:{:064x}", n)); }

// A tag fetched by containerd (index, 1) and by an old client (its linux/amd64 manifest, 2).
TagRecord multi_platform_record(std::optional<Digest> head_digest) {
  TagRecord record{.key = "tag/r/a:1"};
  record.variants = {{.digest = digest_n(1), .media_type = std::string(kOciIndex), .size = 900, .fetched = kT0},
                     {.digest = digest_n(2), .media_type = std::string(kOciManifest), .size = 500, .fetched = kT0}};
  record.head_digest = std::move(head_digest);
  record.fresh_until = kT0 + 300s;
  return record;
}

UpstreamAnswer ok(std::optional<std::string> digest) {
  return {.reachable = true, .status = 200, .docker_content_digest = std::move(digest)};
}

std::string_view name(TagRevalidation outcome) {
  switch (outcome) {
    case TagRevalidation::confirmed: return "confirmed";
    case TagRevalidation::moved: return "moved";
    case TagRevalidation::failed: return "failed";
    case TagRevalidation::deleted: return "deleted";
    case TagRevalidation::relay: return "relay";
  }
  return "?";
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<TagRevalidation> {
  static std::string convert(TagRevalidation value) { return std::string(name(value)); }
};
}  // namespace Catch

TEST_CASE("on_tag_revalidation: an upstream failure is failed (serve stale)") {
  const auto record = multi_platform_record(digest_n(1));
  CHECK(on_tag_revalidation({.reachable = false}, record) == TagRevalidation::failed);
  CHECK(on_tag_revalidation({.reachable = false, .status = 200, .docker_content_digest = digest_n(1).str()},
                            record) == TagRevalidation::failed);
  for (int status : {429, 500, 502, 503, 504, 599}) {
    INFO(status);
    CHECK(on_tag_revalidation({.status = status}, record) == TagRevalidation::failed);
    // Even with a digest header: a failing upstream confirms nothing.
    CHECK(on_tag_revalidation({.status = status, .docker_content_digest = digest_n(1).str()}, record) ==
          TagRevalidation::failed);
  }
  // Failures do not depend on what the record holds.
  CHECK(on_tag_revalidation({.status = 503}, TagRecord{.key = "tag/r/a:1"}) == TagRevalidation::failed);
}

TEST_CASE("on_tag_revalidation: the registry's own refusals are relayed") {
  const auto record = multi_platform_record(digest_n(1));
  for (int status : {401, 403, 400, 405, 304, 302, 204}) {
    INFO(status);
    CHECK(on_tag_revalidation({.status = status}, record) == TagRevalidation::relay);
    CHECK(on_tag_revalidation({.status = status, .docker_content_digest = digest_n(1).str()}, record) ==
          TagRevalidation::relay);
  }
}

TEST_CASE("on_tag_revalidation: a 404 is a deletion, whatever the record holds") {
  CHECK(on_tag_revalidation({.status = 404}, multi_platform_record(digest_n(1))) == TagRevalidation::deleted);
  CHECK(on_tag_revalidation({.status = 404, .docker_content_digest = digest_n(1).str()},
                            multi_platform_record(digest_n(1))) == TagRevalidation::deleted);
  CHECK(on_tag_revalidation({.status = 404}, TagRecord{.key = "tag/r/a:1"}) == TagRevalidation::deleted);
}

TEST_CASE("on_tag_revalidation: a 200 without a usable digest counts as moved") {
  const auto record = multi_platform_record(digest_n(1));
  CHECK(on_tag_revalidation(ok(std::nullopt), record) == TagRevalidation::moved);
  for (const std::string& bad : std::vector<std::string>{"", "sha256:", "sha256:abc", "sha512:" + std::string(128, '0'),
                                "SHA256:" + std::string(64, 'A'), digest_n(1).str() + " ", "garbage"}) {
    INFO(bad);
    CHECK(on_tag_revalidation(ok(bad), record) == TagRevalidation::moved);
  }
}

TEST_CASE("on_tag_revalidation compares with the known head digest") {
  SECTION("equal: confirmed") {
    CHECK(on_tag_revalidation(ok(digest_n(1).str()), multi_platform_record(digest_n(1))) ==
          TagRevalidation::confirmed);
  }
  SECTION("different: moved") {
    CHECK(on_tag_revalidation(ok(digest_n(9).str()), multi_platform_record(digest_n(1))) == TagRevalidation::moved);
  }
  SECTION("a variant that is not the head is no confirmation") {
    // Upstream answered the everything-Accept HEAD with the platform manifest: the tag became
    // single-platform, the stored index is out of date.
    CHECK(on_tag_revalidation(ok(digest_n(2).str()), multi_platform_record(digest_n(1))) == TagRevalidation::moved);
  }
  SECTION("a head digest no variant has") {
    // The head was learnt from a HEAD, its manifest never fetched: still the tag's identity.
    CHECK(on_tag_revalidation(ok(digest_n(7).str()), multi_platform_record(digest_n(7))) ==
          TagRevalidation::confirmed);
  }
}

TEST_CASE("on_tag_revalidation without a head digest looks among the variants") {
  const auto record = multi_platform_record(std::nullopt);
  CHECK(on_tag_revalidation(ok(digest_n(1).str()), record) == TagRevalidation::confirmed);
  CHECK(on_tag_revalidation(ok(digest_n(2).str()), record) == TagRevalidation::confirmed);
  CHECK(on_tag_revalidation(ok(digest_n(3).str()), record) == TagRevalidation::moved);

  SECTION("a record without variants is moved by any digest") {
    CHECK(on_tag_revalidation(ok(digest_n(1).str()), TagRecord{.key = "tag/r/a:1"}) == TagRevalidation::moved);
  }
}
