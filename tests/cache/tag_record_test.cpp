#include "cache/tag_record.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

Digest digest_n(int n) { return *Digest::parse(fmt::format("sha256:{:064x}", n)); }

TagVariant variant(int n, std::string media_type, std::uint64_t size, Timestamp fetched) {
  return {.digest = digest_n(n), .media_type = std::move(media_type), .size = size, .fetched = fetched};
}

constexpr const char* kIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kManifest = "application/vnd.docker.distribution.manifest.v2+json";

TagRecord sample_record() {
  TagRecord record{.key = "tag/registry.test:5000/library/alpine:3.19"};
  record.variants = {variant(1, kIndex, 1'609, kT0), variant(2, kManifest, 528, kT0 + 5s)};
  record.fetched = kT0 + 5s;
  record.revalidated = kT0 + 60s;
  record.fresh_until = kT0 + 360s;
  return record;
}

}  // namespace

TEST_CASE("merge_variant adds a variant of another digest") {
  TagRecord record{.key = "tag/r/a:1"};
  merge_variant(record, variant(1, kIndex, 100, kT0), false);
  REQUIRE(record.variants.size() == 1);
  CHECK(record.fetched == kT0);

  merge_variant(record, variant(2, kManifest, 50, kT0 + 10s), false);
  REQUIRE(record.variants.size() == 2);
  CHECK(record.variants[0] == variant(1, kIndex, 100, kT0));
  CHECK(record.variants[1] == variant(2, kManifest, 50, kT0 + 10s));
  CHECK(record.fetched == kT0 + 10s);
}

TEST_CASE("merge_variant replaces the variant of the same digest in place") {
  TagRecord record{.key = "tag/r/a:1"};
  merge_variant(record, variant(1, kIndex, 100, kT0), false);
  merge_variant(record, variant(2, kManifest, 50, kT0), false);
  merge_variant(record, variant(1, kIndex, 100, kT0 + 30s), false);
  REQUIRE(record.variants.size() == 2);
  CHECK(record.variants[0].digest == digest_n(1));
  CHECK(record.variants[0].fetched == kT0 + 30s);
  CHECK(record.variants[1].digest == digest_n(2));
  CHECK(record.fetched == kT0 + 30s);
}

TEST_CASE("merge_variant with replace_all keeps only the new variant (the tag moved)") {
  TagRecord record{.key = "tag/r/a:1"};
  merge_variant(record, variant(1, kIndex, 100, kT0), false);
  merge_variant(record, variant(2, kManifest, 50, kT0 + 1s), false);
  merge_variant(record, variant(3, kIndex, 120, kT0 + 2s), true);
  REQUIRE(record.variants.size() == 1);
  CHECK(record.variants[0] == variant(3, kIndex, 120, kT0 + 2s));
  CHECK(record.fetched == kT0 + 2s);

  SECTION("even when the new variant has the digest of an old one") {
    merge_variant(record, variant(4, kManifest, 10, kT0 + 3s), false);
    merge_variant(record, variant(4, kManifest, 10, kT0 + 4s), true);
    REQUIRE(record.variants.size() == 1);
    CHECK(record.variants[0].digest == digest_n(4));
  }
}

TEST_CASE("merge_variant keeps the record's fetched time at the newest fetch") {
  TagRecord record{.key = "tag/r/a:1"};
  merge_variant(record, variant(1, kIndex, 100, kT0 + 60s), false);
  merge_variant(record, variant(2, kManifest, 50, kT0), false);  // an older fetch landing late
  CHECK(record.fetched == kT0 + 60s);
  REQUIRE(record.variants.size() == 2);
  CHECK(record.variants[1].fetched == kT0);

  SECTION("also across replace_all") {
    merge_variant(record, variant(3, kManifest, 50, kT0 + 1s), true);
    CHECK(record.fetched == kT0 + 60s);
    CHECK(record.variants.size() == 1);
  }
}

TEST_CASE("A tag record survives encode and decode") {
  auto record = sample_record();

  SECTION("without a head digest") {
    const auto decoded = decode_tag_record(record.key, encode_tag_record(record));
    REQUIRE(decoded);
    CHECK(*decoded == record);
    CHECK_FALSE(decoded->head_digest);
  }
  SECTION("with a head digest") {
    record.head_digest = digest_n(1);
    const auto decoded = decode_tag_record(record.key, encode_tag_record(record));
    REQUIRE(decoded);
    CHECK(*decoded == record);
    REQUIRE(decoded->head_digest);
    CHECK(*decoded->head_digest == digest_n(1));
  }
  SECTION("without variants") {
    record.variants.clear();
    const auto decoded = decode_tag_record(record.key, encode_tag_record(record));
    REQUIRE(decoded);
    CHECK(*decoded == record);
  }
  SECTION("with kForever and epoch times") {
    record.fresh_until = kForever;
    record.revalidated = Timestamp{};
    const auto decoded = decode_tag_record(record.key, encode_tag_record(record));
    REQUIRE(decoded);
    CHECK(decoded->fresh_until == kForever);
    CHECK(decoded->revalidated == Timestamp{});
  }
  SECTION("a large size") {
    record.variants[0].size = (1ull << 40) + 7;
    const auto decoded = decode_tag_record(record.key, encode_tag_record(record));
    REQUIRE(decoded);
    CHECK(decoded->variants[0].size == (1ull << 40) + 7);
  }
}

TEST_CASE("decode_tag_record takes the key it is given, not one from the value") {
  const auto record = sample_record();
  const auto decoded = decode_tag_record("tag/other/b:2", encode_tag_record(record));
  REQUIRE(decoded);
  CHECK(decoded->key == "tag/other/b:2");
  CHECK(decoded->variants == record.variants);
}

TEST_CASE("decode_tag_record reads a damaged or unknown record as absent") {
  const auto good = nlohmann::json::parse(encode_tag_record(sample_record()));
  const std::string key = "tag/r/a:1";
  const auto with = [&](const std::function<void(nlohmann::json&)>& change) {
    auto json = good;
    change(json);
    return decode_tag_record(key, json.dump());
  };
  REQUIRE(decode_tag_record(key, good.dump()));

  CHECK_FALSE(decode_tag_record(key, ""));
  CHECK_FALSE(decode_tag_record(key, "not json"));
  CHECK_FALSE(decode_tag_record(key, good.dump().substr(0, good.dump().size() / 2)));  // truncated
  CHECK_FALSE(decode_tag_record(key, "[]"));
  CHECK_FALSE(decode_tag_record(key, "null"));
  CHECK_FALSE(decode_tag_record(key, "42"));
  CHECK_FALSE(decode_tag_record(key, "{}"));

  // Format.
  CHECK_FALSE(with([](auto& j) { j["format"] = 2; }));
  CHECK_FALSE(with([](auto& j) { j["format"] = 0; }));
  CHECK_FALSE(with([](auto& j) { j.erase("format"); }));

  // Digests.
  CHECK_FALSE(with([](auto& j) { j["variants"][0]["digest"] = "sha256:abc"; }));
  CHECK_FALSE(with([](auto& j) { j["variants"][1]["digest"] = "md5:" + std::string(32, '0'); }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0]["digest"] = "SHA256:" + std::string(64, 'A'); }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0]["digest"] = 7; }));
  CHECK_FALSE(with([](auto& j) { j["head_digest"] = "sha256:nothex"; }));
  CHECK_FALSE(with([](auto& j) { j["head_digest"] = nullptr; }));

  // Missing or mistyped fields.
  CHECK_FALSE(with([](auto& j) { j.erase("variants"); }));
  CHECK_FALSE(with([](auto& j) { j["variants"] = "none"; }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0].erase("media_type"); }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0]["size"] = "528"; }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0].erase("fetched"); }));
  CHECK_FALSE(with([](auto& j) { j["variants"][0] = 1; }));
  CHECK_FALSE(with([](auto& j) { j.erase("fetched"); }));
  CHECK_FALSE(with([](auto& j) { j.erase("revalidated"); }));
  CHECK_FALSE(with([](auto& j) { j["fresh_until"] = "tomorrow"; }));
}

TEST_CASE("decode_tag_record ignores fields it does not know") {
  auto json = nlohmann::json::parse(encode_tag_record(sample_record()));
  json["from_the_future"] = {{"x", 1}};
  json["variants"][0]["annotations"] = nlohmann::json::object();
  const auto decoded = decode_tag_record("tag/registry.test:5000/library/alpine:3.19", json.dump());
  REQUIRE(decoded);
  CHECK(*decoded == sample_record());
}

// A damaged record must read as absent, never escape as an exception (through Index::get_tag or
// for_each_tag).
TEST_CASE("decode_tag_record reads a record whose format is not a number as absent") {
  auto json = nlohmann::json::parse(encode_tag_record(sample_record()));
  for (const auto& format : {nlohmann::json("1"), nlohmann::json::array({1}), nlohmann::json(nullptr)}) {
    json["format"] = format;
    INFO(json.dump());
    std::optional<TagRecord> decoded;
    CHECK_NOTHROW(decoded = decode_tag_record("tag/r/a:1", json.dump()));
    CHECK_FALSE(decoded);
  }
}
