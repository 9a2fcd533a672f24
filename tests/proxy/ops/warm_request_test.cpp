#include "proxy/ops/warm_request.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace pt::ops;
using nlohmann::json;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');
const std::string kDigestD = "sha256:" + std::string(64, 'd');

json entry(const std::string& digest, const char* os, const char* arch, const char* variant = nullptr) {
  json platform{{"os", os}, {"architecture", arch}};
  if (variant) platform["variant"] = variant;
  return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", digest}, {"size", 500},
          {"platform", platform}};
}

std::string index_body() {
  json attestation{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", kDigestD},
                   {"size", 300},
                   {"platform", {{"os", "unknown"}, {"architecture", "unknown"}}}};
  return json{{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.index.v1+json"},
              {"manifests", {entry(kDigestA, "linux", "amd64"), entry(kDigestB, "linux", "arm64"),
                             entry(kDigestC, "linux", "arm", "v7"), attestation}}}
      .dump();
}

}  // namespace

TEST_CASE("warm request: images and platforms") {
  const auto parsed = parse_warm_request(
      R"({"images": ["registry.test:5000/team/app:1.0", "alpine", "alpine:latest", "quay.io/x/y@)" + kDigestA +
      R"("], "platforms": ["linux/amd64", "linux/arm/v7", "linux/amd64"]})");
  REQUIRE(parsed.request);
  const auto& images = parsed.request->images;
  REQUIRE(images.size() == 3);  // "alpine" and "alpine:latest" are one image
  CHECK(images[0].registry == "registry.test:5000");
  CHECK(images[0].repository == "team/app");
  CHECK(images[0].tag == "1.0");
  CHECK(images[1].str() == "docker.io/library/alpine:latest");
  CHECK(images[2].digest == kDigestA);
  CHECK(images[2].tag.empty());
  REQUIRE(parsed.request->platforms.size() == 2);
  CHECK(parsed.request->platforms[1] == Platform{"linux", "arm", "v7"});
}

TEST_CASE("warm request: bad bodies are refused with a reason") {
  const auto error_of = [](std::string_view body) {
    const auto parsed = parse_warm_request(body, {.max_images = 3, .max_body = 1000});
    CHECK_FALSE(parsed.request);
    return parsed.error;
  };
  CHECK_THAT(error_of("not json"), Catch::Contains("JSON object"));
  CHECK_THAT(error_of("[]"), Catch::Contains("JSON object"));
  CHECK_THAT(error_of("{}"), Catch::Contains("non-empty array"));
  CHECK_THAT(error_of(R"({"images": []})"), Catch::Contains("non-empty array"));
  CHECK_THAT(error_of(R"({"images": "alpine"})"), Catch::Contains("non-empty array"));
  CHECK_THAT(error_of(R"({"images": [1]})"), Catch::Contains("strings"));
  CHECK_THAT(error_of(R"({"images": ["Bad Name!"]})"), Catch::Contains("image 'Bad Name!'"));
  CHECK_THAT(error_of(R"({"images": ["a","b","c","d"]})"), Catch::Contains("at most 3"));
  CHECK_THAT(error_of(R"({"images": ["a"], "platforms": "linux/amd64"})"), Catch::Contains("must be an array"));
  CHECK_THAT(error_of(R"({"images": ["a"], "platforms": ["linux"]})"), Catch::Contains("platform 'linux'"));
  CHECK_THAT(error_of(R"({"images": ["a"], "platforms": [7]})"), Catch::Contains("os/architecture"));
  CHECK_THAT(error_of(R"({"images": ["a"], "extra": 1})"), Catch::Contains("unknown field 'extra'"));
  CHECK_THAT(error_of(std::string(1001, ' ')), Catch::Contains("larger than 1000"));
  // Control characters of client input never reach the message as they are.
  CHECK(error_of("{\"images\": [\"a\\u0007b\"]}").find('\a') == std::string::npos);
}

TEST_CASE("platforms parse as os/architecture[/variant]") {
  CHECK(parse_platform("linux/amd64") == Platform{"linux", "amd64", ""});
  CHECK(parse_platform("linux/arm64/v8") == Platform{"linux", "arm64", "v8"});
  CHECK_FALSE(parse_platform("linux"));
  CHECK_FALSE(parse_platform("linux/amd64/v1/x"));
  CHECK_FALSE(parse_platform("linux//v1"));
  CHECK_FALSE(parse_platform("Linux/AMD64"));
  CHECK(Platform{"linux", "arm", "v7"}.str() == "linux/arm/v7");
}

TEST_CASE("an index: every manifest by default, else the requested platforms") {
  SECTION("every platform, attestations included") {
    const auto all = select_manifests(index_body(), {});
    REQUIRE(all.error.empty());
    REQUIRE(all.manifests.size() == 4);
    CHECK(all.manifests[0].digest == kDigestA);
    CHECK(all.manifests[0].platform->str() == "linux/amd64");
    CHECK(all.manifests[0].size == 500);
  }
  SECTION("one platform") {
    const auto amd64 = select_manifests(index_body(), {{"linux", "amd64", ""}});
    REQUIRE(amd64.manifests.size() == 1);
    CHECK(amd64.manifests[0].digest == kDigestA);
  }
  SECTION("variants: arm64's missing variant is v8; a variant asked for must match") {
    auto selected = select_manifests(index_body(), {{"linux", "arm64", "v8"}, {"linux", "arm", "v6"}});
    REQUIRE(selected.manifests.size() == 1);
    CHECK(selected.manifests[0].digest == kDigestB);
    selected = select_manifests(index_body(), {{"linux", "arm", ""}});
    REQUIRE(selected.manifests.size() == 1);
    CHECK(selected.manifests[0].digest == kDigestC);
  }
  SECTION("no manifest for the platforms: an error naming them") {
    const auto none = select_manifests(index_body(), {{"linux", "s390x", ""}, {"windows", "amd64", ""}});
    CHECK(none.manifests.empty());
    CHECK(none.error == "the index has no manifest for linux/s390x, windows/amd64");
  }
  SECTION("not an index, or a bad entry") {
    CHECK_FALSE(select_manifests("{}", {}).error.empty());
    CHECK_FALSE(select_manifests("garbage", {}).error.empty());
    CHECK_FALSE(select_manifests(R"({"manifests": [{"digest": "sha256:../../etc"}]})", {}).error.empty());
  }
}

TEST_CASE("an image manifest: its config, then its layers") {
  const json manifest{{"schemaVersion", 2},
                      {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", kDigestA}, {"size", 10}}},
                      {"layers", {{{"digest", kDigestB}, {"size", 20}}, {{"digest", kDigestC}, {"size", 30}}}}};
  const auto blobs = manifest_blobs(manifest.dump());
  REQUIRE(blobs.error.empty());
  REQUIRE(blobs.blobs.size() == 3);
  CHECK(blobs.blobs[0].digest == kDigestA);
  CHECK(blobs.blobs[2].size == 30);
  CHECK_FALSE(manifest_blobs("[]").error.empty());
  CHECK_THAT(manifest_blobs(R"({"schemaVersion":1,"fsLayers":[]})").error, Catch::Contains("schema 1"));
  CHECK_FALSE(manifest_blobs(R"({"config":{"digest":"x"},"layers":[]})").error.empty());
}

TEST_CASE("a manifest's media type: the Content-Type, else the body's") {
  CHECK(manifest_media_type("application/vnd.oci.image.index.v1+json", "") == "application/vnd.oci.image.index.v1+json");
  CHECK(manifest_media_type("application/json", index_body()) == "application/vnd.oci.image.index.v1+json");
  CHECK(manifest_media_type("", R"({"manifests": []})") == "application/vnd.oci.image.index.v1+json");
  CHECK(manifest_media_type("", R"({"layers": []})") == "application/vnd.oci.image.manifest.v1+json");
  CHECK(manifest_media_type("", "junk").empty());
  CHECK(is_index_type("application/vnd.docker.distribution.manifest.list.v2+json"));
  CHECK_FALSE(is_index_type("application/vnd.docker.distribution.manifest.v2+json"));
}

TEST_CASE("progress lines are one JSON object each") {
  ImageProgress progress{.image = "registry.test:5000/team/app:1.0", .manifests = 3, .platforms = {"linux/amd64"},
                         .blobs_total = 4, .blobs_done = 2, .blobs_cached = 1, .bytes_total = 1000, .bytes = 600};
  const auto lines = {manifests_line(progress), blob_line(progress, kDigestA, true), bytes_line(progress),
                      done_line(progress), failed_line(progress, "HTTP 404 (bad \xff utf-8)")};
  for (const auto& line : lines) {
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    const auto parsed = json::parse(line);
    CHECK(parsed["image"] == progress.image);
    CHECK(parsed["blobs_done"] == 2);
    CHECK(parsed["bytes_total"] == 1000);
  }
  CHECK(json::parse(manifests_line(progress))["platforms"][0] == "linux/amd64");
  CHECK(json::parse(blob_line(progress, kDigestA, true))["cached"] == true);
  CHECK(json::parse(failed_line(progress, "gone"))["event"] == "failed");
  const auto summary = json::parse(summary_line({.images = 3, .warmed = 2, .failed = 1, .bytes = 5, .seconds = 1.5}));
  CHECK(summary["event"] == "summary");
  CHECK(summary["failed"] == 1);
}
