#include "cache/oci_layout.hpp"

#include "test_content.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace pt::cache;
using namespace pt::cache::test;

TEST_CASE("oci layout: index.json names each image in both annotations, and parses back") {
  const auto digest = digest_of("manifest");
  const auto json = oci_index_json(
      {{.descriptor = {.media_type = "application/vnd.oci.image.index.v1+json", .digest = digest, .size = 8},
        .name = "registry.test:5000/library/app:1.0"}});
  const auto parsed_json = nlohmann::json::parse(json);
  CHECK(parsed_json["schemaVersion"] == 2);
  CHECK(parsed_json["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] ==
        "registry.test:5000/library/app:1.0");
  const auto parsed = parse_oci_index(json);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  CHECK(parsed->at(0).descriptor.digest == digest);
  CHECK(parsed->at(0).descriptor.size == 8);
  CHECK(parsed->at(0).containerd_name == "registry.test:5000/library/app:1.0");
  CHECK(parsed->at(0).ref_name == "registry.test:5000/library/app:1.0");
  CHECK(parse_oci_layout(oci_layout_json()));
}

TEST_CASE("oci layout: malformed index.json is refused with the entry named") {
  CHECK_THAT(parse_oci_index("not json").error, Catch::Contains("not valid JSON"));
  CHECK_THAT(parse_oci_index("[]").error, Catch::Contains("not a JSON object"));
  CHECK_THAT(parse_oci_index("{}").error, Catch::Contains("manifests"));
  CHECK_THAT(parse_oci_index(R"({"manifests":[{"size":1}]})").error, Catch::Contains("manifests[0] has no digest"));
  CHECK_THAT(parse_oci_index(R"({"manifests":[{"digest":"sha256:abc","size":1}]})").error,
             Catch::Contains("sha256:<64"));
  CHECK_THAT(parse_oci_index(R"({"manifests":[{"digest":")" + digest_of("x").str() + R"(","size":-1}]})").error,
             Catch::Contains("no size"));
  CHECK_THAT(parse_oci_index(R"({"manifests":[1,2,3]})", 2).error, Catch::Contains("more than the limit"));
  CHECK_FALSE(parse_oci_layout(R"({"imageLayoutVersion":"2.0.0"})"));
  CHECK_FALSE(parse_oci_layout("[]"));
}

TEST_CASE("oci layout: blob paths") {
  const auto digest = digest_of("x");
  CHECK(oci_blob_path(digest) == "blobs/sha256/" + std::string(digest.hex()));
  CHECK(digest_of_blob_path(oci_blob_path(digest)) == digest);
  CHECK_FALSE(digest_of_blob_path("blobs/sha512/" + std::string(digest.hex())));
  CHECK_FALSE(digest_of_blob_path("blobs/sha256/" + std::string(digest.hex()) + "/x"));
  CHECK_FALSE(digest_of_blob_path("blobs/sha256/ABC"));
}

TEST_CASE("oci layout: manifests summarised") {
  const auto config = digest_of("config"), layer = digest_of("layer"), child = digest_of("child");
  const auto manifest = nlohmann::json{{"schemaVersion", 2},
                                       {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                                       {"config", {{"digest", config.str()}, {"size", 6}}},
                                       {"layers", {{{"digest", layer.str()}, {"size", 5}}}}}
                            .dump();
  const auto summary = summarise_manifest(manifest);
  REQUIRE(summary);
  CHECK_FALSE(summary->is_index);
  CHECK(summary->media_type == "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(summary->blobs == std::vector<Digest>{config, layer});

  const auto index = nlohmann::json{{"schemaVersion", 2},
                                    {"manifests",
                                     {{{"digest", child.str()},
                                       {"size", 3},
                                       {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                       {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}}}}}
                         .dump();
  const auto index_summary = summarise_manifest(index);
  REQUIRE(index_summary);
  CHECK(index_summary->is_index);
  REQUIRE(index_summary->children.size() == 1);
  CHECK(index_summary->children[0].platform == "linux/arm64/v8");
  CHECK(index_summary->children[0].digest == child);

  CHECK_FALSE(summarise_manifest("nope"));
  CHECK_FALSE(summarise_manifest(R"({"schemaVersion":1,"fsLayers":[]})"));
  CHECK_FALSE(summarise_manifest(R"({"config":{"digest":"sha256:x","size":1},"layers":[]})"));
  CHECK_FALSE(summarise_manifest(R"({"manifests":{}})"));
}
