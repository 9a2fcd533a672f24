#include "cache/manifest_negotiation.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

Digest digest_n(int n) { return *Digest::parse(fmt::format("sha256:{:064x}", n)); }

constexpr std::string_view kSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
constexpr std::string_view kSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kJson = "application/json";

// What the session sees: the client's Accept fields joined with ", ".
std::string joined(const std::vector<std::string_view>& fields) { return fmt::format("{}", fmt::join(fields, ", ")); }

// containerd 1.6 (ctr, nerdctl, k8s via CRI): one field.
const std::string kContainerd =
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*";
// docker 20.10 (distribution's client): one field per type.
const std::string kDocker2010 = joined({kDockerManifest, kDockerManifestList, kOciManifest, kOciIndex,
                                        kSchema1Signed, kJson});
// podman / skopeo (containers/image DefaultRequestedManifestMIMETypes): one field per type.
const std::string kPodman = joined({kOciManifest, kDockerManifest, kSchema1Signed, kSchema1, kDockerManifestList,
                                    kOciIndex});
// An old client or a script that takes a single-platform Docker manifest only.
const std::string kOldDocker = joined({kDockerManifest, kSchema1Signed, kJson});

TagVariant variant(int n, std::string_view media_type, Timestamp fetched) {
  return {.digest = digest_n(n), .media_type = std::string(media_type), .size = 100u + n, .fetched = fetched};
}

nlohmann::json descriptor(int n, std::string_view media_type, nlohmann::json platform, std::int64_t size = 528) {
  nlohmann::json d = {{"mediaType", media_type}, {"digest", digest_n(n).str()}, {"size", size}};
  if (!platform.is_null()) d["platform"] = std::move(platform);
  return d;
}

// A Docker manifest list as Docker Hub serves library images: arm64 first, amd64 later.
std::string docker_manifest_list() {
  return nlohmann::json{
      {"schemaVersion", 2},
      {"mediaType", kDockerManifestList},
      {"manifests",
       {descriptor(10, kDockerManifest, {{"architecture", "arm"}, {"os", "linux"}, {"variant", "v7"}}),
        descriptor(11, kDockerManifest, {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}}, 1'000),
        descriptor(12, kDockerManifest, {{"architecture", "amd64"}, {"os", "linux"}}, 528),
        descriptor(13, kDockerManifest, {{"architecture", "amd64"}, {"os", "windows"}, {"os.version", "10.0"}})}}}
      .dump();
}

// An OCI index as buildx pushes it: platform manifests plus attestation manifests.
std::string oci_index() {
  return nlohmann::json{
      {"schemaVersion", 2},
      {"mediaType", kOciIndex},
      {"manifests",
       {descriptor(20, kOciManifest, {{"architecture", "arm64"}, {"os", "linux"}}),
        descriptor(21, kOciManifest, {{"architecture", "amd64"}, {"os", "linux"}, {"variant", "v3"}}, 1'234),
        descriptor(22, kOciManifest, {{"architecture", "unknown"}, {"os", "unknown"}})}}}
      .dump();
}

}  // namespace

// ---------------------------------------------------------------- AcceptedTypes

TEST_CASE("is_index_media_type knows both index types, whatever their case") {
  CHECK(is_index_media_type(kOciIndex));
  CHECK(is_index_media_type(kDockerManifestList));
  CHECK(is_index_media_type("Application/VND.OCI.Image.Index.v1+JSON"));
  CHECK_FALSE(is_index_media_type(kOciManifest));
  CHECK_FALSE(is_index_media_type(kDockerManifest));
  CHECK_FALSE(is_index_media_type(kJson));
  CHECK_FALSE(is_index_media_type(""));
}

TEST_CASE("AcceptedTypes: containerd 1.6 accepts every type, indexes included") {
  const auto accepted = AcceptedTypes::parse(kContainerd);
  CHECK(accepted.accepts_index());
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts(kDockerManifestList));
  CHECK(accepted.accepts(kOciManifest));
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(accepted.accepts(kSchema1Signed));  // through */*
  CHECK(accepted.accepts("text/plain"));
}

TEST_CASE("AcceptedTypes: docker 20.10 sends one type per field, schema 1 and application/json included") {
  const auto accepted = AcceptedTypes::parse(kDocker2010);
  CHECK(accepted.accepts_index());
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts(kDockerManifestList));
  CHECK(accepted.accepts(kOciManifest));
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(accepted.accepts(kSchema1Signed));
  CHECK(accepted.accepts(kJson));
  CHECK_FALSE(accepted.accepts(kSchema1));
  CHECK_FALSE(accepted.accepts("text/html"));
}

TEST_CASE("AcceptedTypes: podman and skopeo accept schema 1 and both indexes") {
  const auto accepted = AcceptedTypes::parse(kPodman);
  CHECK(accepted.accepts_index());
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts(kDockerManifestList));
  CHECK(accepted.accepts(kSchema1Signed));
  CHECK(accepted.accepts(kSchema1));
  CHECK_FALSE(accepted.accepts(kJson));
}

TEST_CASE("AcceptedTypes: a client without index types does not accept an index") {
  const auto accepted = AcceptedTypes::parse(kOldDocker);
  CHECK_FALSE(accepted.accepts_index());
  CHECK_FALSE(accepted.accepts(kOciIndex));
  CHECK_FALSE(accepted.accepts(kDockerManifestList));
  CHECK_FALSE(accepted.accepts(kOciManifest));
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(accepted.accepts(kJson));

  SECTION("one index type is enough for accepts_index") {
    CHECK(AcceptedTypes::parse(joined({kDockerManifest, kDockerManifestList})).accepts_index());
    CHECK(AcceptedTypes::parse(joined({kOciManifest, kOciIndex})).accepts_index());
  }
}

TEST_CASE("AcceptedTypes: an absent or empty header accepts anything") {
  for (const std::string header : {"", " ", ",", " , ,\t"}) {
    INFO("header '" << header << "'");
    const auto accepted = AcceptedTypes::parse(header);
    CHECK(accepted.accepts_index());
    CHECK(accepted.accepts(kDockerManifest));
    CHECK(accepted.accepts(kSchema1Signed));
    CHECK(accepted.accepts("text/plain"));
  }
  CHECK(AcceptedTypes::parse("*/*").accepts(kOciIndex));
  CHECK(AcceptedTypes::parse("*/*").accepts("image/png"));
}

TEST_CASE("AcceptedTypes: q=0 refuses a type, other q-values accept it") {
  SECTION("q=0 in all its spellings") {
    for (const std::string q : {"q=0", "q=0.", "q=0.0", "q=0.000", "Q=0", " q = 0 "}) {
      INFO(q);
      const auto accepted = AcceptedTypes::parse(fmt::format("{};{}, {}", kOciIndex, q, kDockerManifest));
      CHECK_FALSE(accepted.accepts(kOciIndex));
      CHECK(accepted.accepts(kDockerManifest));
    }
  }
  SECTION("a refused type stays refused with */* present") {
    const auto accepted = AcceptedTypes::parse(fmt::format("{};q=0, */*", kOciIndex));
    CHECK_FALSE(accepted.accepts(kOciIndex));
    CHECK(accepted.accepts(kDockerManifestList));
    CHECK(accepted.accepts_index());  // the other index type is still accepted
    CHECK(accepted.accepts(kOciManifest));
  }
  SECTION("refusing both index types") {
    const auto accepted = AcceptedTypes::parse(fmt::format("{};q=0, {}; q=0, */*", kOciIndex, kDockerManifestList));
    CHECK_FALSE(accepted.accepts_index());
    CHECK(accepted.accepts(kDockerManifest));
  }
  SECTION("q other than zero accepts") {
    for (const std::string q : {"q=0.5", "q=1", "q=0.001", "q=1.0", "q=0.1"}) {
      INFO(q);
      CHECK(AcceptedTypes::parse(fmt::format("{};{}", kOciIndex, q)).accepts(kOciIndex));
    }
  }
  SECTION("q=0 after another parameter") {
    const auto accepted = AcceptedTypes::parse(fmt::format("{}; charset=utf-8; q=0, */*", kJson));
    CHECK_FALSE(accepted.accepts(kJson));
    CHECK(accepted.accepts(kDockerManifest));
  }
  SECTION("refusing the only type listed accepts nothing") {
    const auto accepted = AcceptedTypes::parse(fmt::format("{};q=0", kDockerManifest));
    CHECK_FALSE(accepted.accepts(kDockerManifest));
    CHECK_FALSE(accepted.accepts_index());
  }
}

TEST_CASE("AcceptedTypes: type/* accepts every subtype of that type") {
  const auto accepted = AcceptedTypes::parse("application/*");
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(accepted.accepts(kJson));
  CHECK(accepted.accepts_index());
  CHECK_FALSE(accepted.accepts("text/plain"));
  CHECK_FALSE(accepted.accepts("applicationx/json"));

  const auto text = AcceptedTypes::parse("text/*, application/vnd.docker.distribution.manifest.v2+json");
  CHECK(text.accepts("text/plain"));
  CHECK(text.accepts(kDockerManifest));
  CHECK_FALSE(text.accepts_index());
}

TEST_CASE("AcceptedTypes ignores case, whitespace and parameters") {
  const auto accepted = AcceptedTypes::parse(
      "  Application/VND.Docker.Distribution.Manifest.V2+JSON ;q=0.9,\tapplication/vnd.oci.image.index.v1+json; "
      "charset=utf-8  ");
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts_index());
  CHECK(accepted.accepts("APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON"));
  CHECK(accepted.accepts("application/vnd.oci.image.index.v1+json; charset=utf-8"));  // a stored Content-Type
  CHECK(accepted.accepts(" application/vnd.docker.distribution.manifest.v2+json "));
  CHECK_FALSE(accepted.accepts(kOciManifest));

  const auto refused = AcceptedTypes::parse("APPLICATION/JSON;Q=0, */*");
  CHECK_FALSE(refused.accepts(kJson));
  CHECK_FALSE(refused.accepts("application/json; charset=utf-8"));
}

TEST_CASE("revalidation_accept asks for every manifest type") {
  const auto header = revalidation_accept();
  const auto accepted = AcceptedTypes::parse(header);
  CHECK(accepted.accepts(kOciIndex));
  CHECK(accepted.accepts(kDockerManifestList));
  CHECK(accepted.accepts(kOciManifest));
  CHECK(accepted.accepts(kDockerManifest));
  CHECK(header.find("*/*") == std::string::npos);  // no wildcard: the registry must pick a manifest type
  CHECK_FALSE(accepted.accepts(kJson));
}

// ---------------------------------------------------------------- choose_variant

TEST_CASE("choose_variant prefers the index when the client accepts one") {
  TagRecord record{.key = "tag/r/a:1"};
  // The platform manifest was fetched after the index: the index still wins.
  record.variants = {variant(1, kOciIndex, kT0), variant(2, kDockerManifest, kT0 + 10s)};

  for (const auto* header : {&kContainerd, &kDocker2010, &kPodman}) {
    INFO(*header);
    const auto chosen = choose_variant(record, AcceptedTypes::parse(*header));
    REQUIRE(chosen);
    CHECK(chosen->digest == digest_n(1));
  }
  const auto chosen = choose_variant(record, AcceptedTypes::parse(""));
  REQUIRE(chosen);
  CHECK(chosen->digest == digest_n(1));

  SECTION("whatever the order of the variants") {
    std::swap(record.variants[0], record.variants[1]);
    CHECK(choose_variant(record, AcceptedTypes::parse(kContainerd))->digest == digest_n(1));
  }
  SECTION("a Docker manifest list too") {
    record.variants[0].media_type = std::string(kDockerManifestList);
    CHECK(choose_variant(record, AcceptedTypes::parse(kDocker2010))->digest == digest_n(1));
  }
}

TEST_CASE("choose_variant gives a client without index types the platform manifest") {
  TagRecord record{.key = "tag/r/a:1"};
  record.variants = {variant(1, kDockerManifestList, kT0 + 10s), variant(2, kDockerManifest, kT0)};
  const auto chosen = choose_variant(record, AcceptedTypes::parse(kOldDocker));
  REQUIRE(chosen);
  CHECK(chosen->digest == digest_n(2));
  CHECK(chosen->media_type == kDockerManifest);
  CHECK(chosen->size == 102);

  SECTION("a client refusing indexes explicitly") {
    const auto refusing = AcceptedTypes::parse(fmt::format("{};q=0, {};q=0, */*", kOciIndex, kDockerManifestList));
    CHECK(choose_variant(record, refusing)->digest == digest_n(2));
  }
}

TEST_CASE("choose_variant takes the newest among equally good variants") {
  TagRecord record{.key = "tag/r/a:1"};
  SECTION("platform manifests") {
    record.variants = {variant(1, kDockerManifest, kT0), variant(2, kDockerManifest, kT0 + 20s),
                       variant(3, kDockerManifest, kT0 + 10s)};
    CHECK(choose_variant(record, AcceptedTypes::parse(kOldDocker))->digest == digest_n(2));
  }
  SECTION("indexes") {
    record.variants = {variant(1, kOciIndex, kT0 + 20s), variant(2, kDockerManifestList, kT0),
                       variant(3, kDockerManifest, kT0 + 30s)};
    CHECK(choose_variant(record, AcceptedTypes::parse(kContainerd))->digest == digest_n(1));
  }
  SECTION("the same time: the first stays") {
    record.variants = {variant(1, kDockerManifest, kT0), variant(2, kDockerManifest, kT0)};
    CHECK(choose_variant(record, AcceptedTypes::parse(kOldDocker))->digest == digest_n(1));
  }
}

TEST_CASE("choose_variant: nothing when no variant fits") {
  TagRecord record{.key = "tag/r/a:1"};
  CHECK_FALSE(choose_variant(record, AcceptedTypes::parse(kContainerd)));  // no variants at all

  record.variants = {variant(1, kOciIndex, kT0), variant(2, kOciManifest, kT0)};
  CHECK_FALSE(choose_variant(record, AcceptedTypes::parse(kOldDocker)));
  CHECK_FALSE(choose_variant(record, AcceptedTypes::parse(fmt::format("{};q=0, {};q=0", kOciIndex, kOciManifest))));
  // Only a schema 1 manifest stored, and a client without schema 1.
  record.variants = {variant(3, kSchema1Signed, kT0)};
  CHECK_FALSE(choose_variant(record, AcceptedTypes::parse(joined({kOciManifest, kOciIndex}))));
  CHECK(choose_variant(record, AcceptedTypes::parse(kDocker2010))->digest == digest_n(3));
}

// ---------------------------------------------------------------- platform_manifest

TEST_CASE("platform_manifest picks linux/amd64 from a Docker manifest list") {
  const auto picked = platform_manifest(docker_manifest_list());
  REQUIRE(picked);
  CHECK(picked->digest == digest_n(12));  // not arm (v7), not arm64, not windows/amd64
  CHECK(picked->media_type == kDockerManifest);
  CHECK(picked->size == 528);

  SECTION("another platform when asked") {
    const auto arm64 = platform_manifest(docker_manifest_list(), "linux", "arm64");
    REQUIRE(arm64);
    CHECK(arm64->digest == digest_n(11));  // its "variant": "v8" is not required
    CHECK(arm64->size == 1'000);
    CHECK(platform_manifest(docker_manifest_list(), "windows", "amd64")->digest == digest_n(13));
    CHECK_FALSE(platform_manifest(docker_manifest_list(), "linux", "s390x"));
  }
}

TEST_CASE("platform_manifest picks linux/amd64 from an OCI index, ignoring its variant field") {
  const auto picked = platform_manifest(oci_index());
  REQUIRE(picked);
  CHECK(picked->digest == digest_n(21));
  CHECK(picked->media_type == kOciManifest);
  CHECK(picked->size == 1'234);
}

TEST_CASE("platform_manifest: nothing without the platform") {
  // Attestations only, and a descriptor without platform.
  const auto body = nlohmann::json{
      {"schemaVersion", 2},
      {"manifests",
       {descriptor(30, kOciManifest, {{"architecture", "unknown"}, {"os", "unknown"}}),
        descriptor(31, kOciManifest, nullptr), descriptor(32, kOciManifest, {{"os", "linux"}}),
        descriptor(33, kOciManifest, {{"architecture", "amd64"}})}}}
                        .dump();
  CHECK_FALSE(platform_manifest(body));
  CHECK_FALSE(platform_manifest(R"({"schemaVersion":2,"manifests":[]})"));
  // An image manifest is no index.
  CHECK_FALSE(platform_manifest(R"({"schemaVersion":2,"config":{},"layers":[]})"));
}

TEST_CASE("platform_manifest: a descriptor without mediaType is taken as a Docker manifest") {
  auto json = nlohmann::json::parse(docker_manifest_list());
  json["manifests"][2].erase("mediaType");
  const auto picked = platform_manifest(json.dump());
  REQUIRE(picked);
  CHECK(picked->media_type == kDockerManifest);
  CHECK(picked->digest == digest_n(12));
}

TEST_CASE("platform_manifest skips an amd64 descriptor with an unusable digest for a later good one") {
  auto json = nlohmann::json::parse(docker_manifest_list());
  auto bad = json["manifests"][2];
  bad["digest"] = "sha512:" + std::string(128, 'a');
  json["manifests"].insert(json["manifests"].begin(), bad);
  const auto picked = platform_manifest(json.dump());
  REQUIRE(picked);
  CHECK(picked->digest == digest_n(12));
}

TEST_CASE("platform_manifest: hostile bodies give nothing and throw nothing") {
  const auto amd64 = [](nlohmann::json child) {
    return nlohmann::json{{"schemaVersion", 2}, {"manifests", nlohmann::json::array({std::move(child)})}}.dump();
  };
  const auto good = descriptor(40, kDockerManifest, {{"architecture", "amd64"}, {"os", "linux"}});
  REQUIRE(platform_manifest(amd64(good)));

  const auto with = [&](const std::function<void(nlohmann::json&)>& change) {
    auto child = good;
    change(child);
    return amd64(child);
  };
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"empty", ""},
      {"not JSON", "<html>502 Bad Gateway</html>"},
      {"truncated", amd64(good).substr(0, 60)},
      {"an array", "[1,2,3]"},
      {"a string", "\"manifests\""},
      {"null", "null"},
      {"no manifests", R"({"schemaVersion":2})"},
      {"manifests an object", R"({"manifests":{"digest":"x"}})"},
      {"manifests a string", R"({"manifests":"linux/amd64"})"},
      {"manifests null", R"({"manifests":null})"},
      {"manifests of numbers", R"({"manifests":[1,2,null,"x",[]]})"},
      {"digest a number", with([](auto& c) { c["digest"] = 42; })},
      {"digest an object", with([](auto& c) { c["digest"] = {{"sha256", "x"}}; })},
      {"digest null", with([](auto& c) { c["digest"] = nullptr; })},
      {"digest not sha256", with([](auto& c) { c["digest"] = "sha256:xyz"; })},
      {"digest missing", with([](auto& c) { c.erase("digest"); })},
      {"size a string", with([](auto& c) { c["size"] = "528"; })},
      {"mediaType a number", with([](auto& c) { c["mediaType"] = 1; })},
      {"platform a string", with([](auto& c) { c["platform"] = "linux/amd64"; })},
      {"platform an array", with([](auto& c) { c["platform"] = {"linux", "amd64"}; })},
      {"platform null", with([](auto& c) { c["platform"] = nullptr; })},
      {"os a number", with([](auto& c) { c["platform"]["os"] = 1; })},
      {"architecture an array", with([](auto& c) { c["platform"]["architecture"] = {"amd64"}; })},
      {"deeply nested", std::string(100'000, '[') + std::string(100'000, ']')},
      {"nested manifests", R"({"manifests":[{"manifests":[{"platform":{"os":"linux","architecture":"amd64"}}]}]})"},
  };
  for (const auto& [why, body] : bodies) {
    INFO(why);
    std::optional<PlatformManifest> picked;
    CHECK_NOTHROW(picked = platform_manifest(body));
    CHECK_FALSE(picked);
  }
}

// A descriptor's size is an int64 >= 0 (OCI image-spec descriptor.md); a negative one is a broken
// index: "no such platform".
TEST_CASE("platform_manifest: a descriptor of negative size gives nothing") {
  const auto body = nlohmann::json{
      {"schemaVersion", 2},
      {"manifests",
       nlohmann::json::array({descriptor(41, kDockerManifest, {{"architecture", "amd64"}, {"os", "linux"}}, -1)})}}
                        .dump();
  std::optional<PlatformManifest> picked;
  CHECK_NOTHROW(picked = platform_manifest(body));
  CHECK_FALSE(picked);
}

// ---------------------------------------------------------------- registry_error_body

TEST_CASE("registry_error_body is a registry's JSON error with the code and message") {
  const std::string message = "the registry cannot be reached (it answered 503); \"quoted\"\\ and\nnewline, é";
  const auto body = registry_error_body("MANIFEST_UNKNOWN", message);
  const auto json = nlohmann::json::parse(body, nullptr, false);
  REQUIRE_FALSE(json.is_discarded());
  REQUIRE(json.is_object());
  REQUIRE(json["errors"].is_array());
  REQUIRE(json["errors"].size() == 1);
  CHECK(json["errors"][0]["code"] == "MANIFEST_UNKNOWN");
  CHECK(json["errors"][0]["message"] == message);
  CHECK(body.find('\n') == std::string::npos);  // one line

  const auto empty = nlohmann::json::parse(registry_error_body("UNAVAILABLE", ""));
  CHECK(empty["errors"][0]["code"] == "UNAVAILABLE");
  CHECK(empty["errors"][0]["message"] == "");
}

// The message quotes error texts (serve_tag_offline passes the upstream failure), so a byte that
// is not UTF-8 must not turn the 404 reply into an exception.
TEST_CASE("registry_error_body does not throw on a message that is not UTF-8") {
  std::string body;
  CHECK_NOTHROW(body = registry_error_body("MANIFEST_UNKNOWN", "bad byte \xff\xfe here"));
  const auto json = nlohmann::json::parse(body, nullptr, false);
  CHECK(json.is_object());
}
