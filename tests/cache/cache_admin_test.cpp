#include "cache/cache_admin.hpp"

#include "store_helpers.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

using namespace pt::cache;
using namespace pt::cache::test;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));
constexpr const char* kReg = "registry.test:5000";

std::unique_ptr<CacheStore> open_store(const TempDir& dir, std::uint64_t max_bytes = 1ull << 30) {
  CacheSettings settings;
  settings.directory = dir.path() / "cache";
  settings.max_bytes = max_bytes;
  return CacheStore::open(settings);
}

std::string image_manifest(const std::vector<Digest>& blobs) {
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t i = 1; i < blobs.size(); ++i) {
    layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {"digest", blobs[i].str()},
                      {"size", 1}});
  }
  return nlohmann::json{{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config", {{"digest", blobs[0].str()}, {"size", 1}}},
                        {"layers", layers}}
      .dump();
}

std::string index_manifest(const std::vector<Digest>& children) {
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& child : children) manifests.push_back({{"digest", child.str()}, {"size", 1}});
  return nlohmann::json{{"schemaVersion", 2}, {"manifests", manifests}}.dump();
}

// A registry's cache as pulls leave it: blobs, then the manifest under its tag and its digest.
struct World {
  TempDir dir;
  std::unique_ptr<CacheStore> store = open_store(dir);

  Digest blob(std::size_t size, unsigned seed) {
    const auto content = make_content(size, seed);
    const auto digest = digest_of(content);
    REQUIRE_FALSE(store_content(*store, std::string("blob/") + kReg + "/" + digest.str(), content, kT0));
    return digest;
  }
  Digest manifest(const std::string& repository, const std::string& body,
                  const std::string& tag = "") {
    const auto digest = digest_of(body);
    REQUIRE_FALSE(store_content(*store, fmt::format("manifest/{}/{}@{}", kReg, repository, digest.str()),
                                body, kT0));
    if (!tag.empty()) {
      REQUIRE_FALSE(store_content(*store, fmt::format("tag/{}/{}:{}#application/json", kReg, repository, tag),
                                  body, kT0, kT0 + 60s));
    }
    return digest;
  }
  CacheSnapshot snapshot() { return take_snapshot(store->index(), store->blobs()); }
  bool has(const std::string& key) { return store->index().get(key).has_value(); }
  bool blob_cached(const Digest& d) { return has(std::string("blob/") + kReg + "/" + d.str()); }
  bool file_exists(const Digest& d) { return std::filesystem::exists(store->blobs().blob_path(d)); }

  RemovalPlan remove(const std::string& text, bool tag_only = false) {
    const auto parsed = parse_image_reference(text);
    REQUIRE(parsed.reference);
    auto plan = plan_removal(snapshot(), *parsed.reference, tag_only);
    if (plan.error.empty()) {
      const auto result = execute_removal(*store, plan);
      CHECK(result.errors.empty());
      CHECK(result.entries == plan.keys.size());
    }
    return plan;
  }
};

}  // namespace

TEST_CASE("parse_cache_key splits every kind of key") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  auto blob = parse_cache_key("blob/registry.test:5000/" + digest);
  REQUIRE(blob);
  CHECK(blob->kind == KeyParts::Kind::blob);
  CHECK(blob->registry == "registry.test:5000");
  CHECK(blob->digest->str() == digest);

  auto manifest = parse_cache_key("manifest/r.io/library/app@" + digest);
  REQUIRE(manifest);
  CHECK(manifest->kind == KeyParts::Kind::manifest);
  CHECK(manifest->repository == "library/app");

  auto tag = parse_cache_key("tag/r.io:8443/a/b/c:v1.2#application/vnd.oci.image.index.v1+json,*/*");
  REQUIRE(tag);
  CHECK(tag->registry == "r.io:8443");
  CHECK(tag->repository == "a/b/c");
  CHECK(tag->tag == "v1.2");
  CHECK(tag->variant == "application/vnd.oci.image.index.v1+json,*/*");

  auto record = parse_cache_key("tag/r.io/a:v1");  // a tag record's key: no variant
  REQUIRE(record);
  CHECK(record->tag == "v1");
  CHECK(record->variant.empty());
  CHECK_FALSE(parse_cache_key("tag/r.io/a:#x"));
  CHECK_FALSE(parse_cache_key("tag/r.io/a:"));
  CHECK_FALSE(parse_cache_key("blob/r.io/sha256:xyz"));
  CHECK_FALSE(parse_cache_key("manifest/r.io/app"));
  CHECK_FALSE(parse_cache_key("meta/totals"));
  CHECK_FALSE(parse_cache_key("blob//" + digest));
}

TEST_CASE("parse_image_reference accepts name, name:tag and name@digest") {
  const std::string digest = "sha256:" + std::string(64, 'b');
  auto plain = parse_image_reference("Registry.Test:5000/library/app");
  REQUIRE(plain.reference);
  CHECK(plain.reference->registry == "registry.test:5000");
  CHECK(plain.reference->repository == "library/app");
  CHECK(plain.reference->tag.empty());
  CHECK(plain.reference->digest.empty());

  auto tagged = parse_image_reference("quay.io:443/org/app:1.0");
  REQUIRE(tagged.reference);
  CHECK(tagged.reference->tag == "1.0");
  CHECK(cache_name(*tagged.reference) == "quay.io/org/app:1.0");  // keys drop the HTTPS port

  // The reference keeps docker's name for Docker Hub; the cache's is the host pulls connect to.
  auto pinned = parse_image_reference("docker.io/library/alpine@" + digest);
  REQUIRE(pinned.reference);
  CHECK(pinned.reference->registry == "docker.io");
  CHECK(pinned.reference->digest == digest);
  CHECK(cache_name(*pinned.reference) == "registry-1.docker.io/library/alpine@" + digest);

  for (const char* bad : {"", "alpine", "library/app:1.0", "r.io/", "/app", "r.io/app:", "r.io/app@sha256:12",
                          "r.io/app@md5:abc", "r.io/a b", "r.io/app:1:2", "r.io/App",
                          "r.io/app@sha512:" "0123456789abcdef0123456789abcdef", "r.io/app:1@sha256:" "b"}) {
    INFO(bad);
    const auto parsed = parse_image_reference(bad);
    CHECK_FALSE(parsed.reference);
    CHECK_THAT(parsed.error, Catch::Contains("expected registry/name"));
  }
  CHECK_THAT(parse_image_reference("r.io/app:1@" + digest).error, Catch::Contains("not both"));
  CHECK_THAT(parse_image_reference("alpine/app").error, Catch::Contains("'alpine' is no registry host"));
}

TEST_CASE("Docker Hub's names all name the registry-1.docker.io entries") {
  const std::string key = "tag/registry-1.docker.io/library/alpine:3.19#application/json";
  for (const char* name : {"docker.io/alpine:3.19", "docker.io/library/alpine:3.19", "index.docker.io/alpine:3.19",
                           "registry-1.docker.io/library/alpine:3.19", "Registry.Hub.Docker.com/alpine:3.19",
                           "docker.io:443/library/alpine:3.19"}) {
    INFO(name);
    World w;
    REQUIRE_FALSE(store_content(*w.store, key, image_manifest({digest_of("config")}), kT0));
    const auto plan = w.remove(name, /*tag_only=*/true);
    CHECK(plan.error.empty());
    CHECK(plan.keys == std::vector<std::string>{key});
    CHECK_FALSE(w.has(key));
  }
  World w;
  REQUIRE_FALSE(store_content(*w.store, key, image_manifest({digest_of("config")}), kT0));
  // docker.io:5000 is some other server, not Docker Hub.
  CHECK_THAT(w.remove("docker.io:5000/alpine:3.19").error, Catch::Contains("registry docker.io:5000"));
  const auto parsed = parse_image_reference("docker.io/alpine:3.20");
  REQUIRE(parsed.reference);
  const auto plan = plan_removal(w.snapshot(), *parsed.reference);
  CHECK(plan.error == "nothing cached for registry-1.docker.io/library/alpine:3.20");
  CHECK(to_json(*parsed.reference, plan, nullptr)["reference"] == "registry-1.docker.io/library/alpine:3.20");
}

TEST_CASE("manifest_references reads images, indexes and schema 1") {
  const auto a = digest_of("a"), b = digest_of("b"), c = digest_of("c");
  auto image = manifest_references(image_manifest({a, b, c}));
  CHECK(image.parsed);
  CHECK(image.blobs == std::vector<Digest>{a, b, c});
  CHECK(image.manifests.empty());

  auto index = manifest_references(index_manifest({a, b}));
  CHECK(index.parsed);
  CHECK(index.manifests == std::vector<Digest>{a, b});

  auto schema1 = manifest_references(
      nlohmann::json{{"schemaVersion", 1}, {"fsLayers", {{{"blobSum", c.str()}}}}}.dump());
  CHECK(schema1.blobs == std::vector<Digest>{c});

  CHECK_FALSE(manifest_references("not json").parsed);
  CHECK_FALSE(manifest_references("[1,2]").parsed);
  CHECK(manifest_references(R"({"layers":[{"digest":"md5:1"},42]})").blobs.empty());
}

TEST_CASE("ls and stats describe what pulls cached") {
  World w;
  const auto config = w.blob(100, 1), layer = w.blob(1000, 2), shared = w.blob(500, 3);
  const auto app = w.manifest("library/app", image_manifest({config, layer, shared}), "1.0");
  const auto other_config = w.blob(50, 4);
  const auto other = w.manifest("other", image_manifest({other_config, shared}));
  const auto stray = w.blob(7, 5);  // a blob no manifest refers to

  const auto snapshot = w.snapshot();
  const auto rows = list_images(snapshot);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].repository == "library/app");
  CHECK(rows[0].tag == "1.0");
  CHECK(rows[0].digest == app);
  CHECK(rows[0].blobs_cached == 3);
  CHECK(rows[0].blobs_referenced == 3);
  CHECK(rows[0].size == rows[0].manifest_size + 1600);
  CHECK(rows[1].repository == "other");
  CHECK(rows[1].tag.empty());
  CHECK(rows[1].digest == other);
  CHECK(rows[1].size == rows[1].manifest_size + 550);

  CHECK(list_images(snapshot, "registry.test:5000/oth").size() == 1);
  CHECK(list_images(snapshot, "elsewhere").empty());

  const auto stats = cache_stats(snapshot);
  REQUIRE(stats.registries.size() == 1);
  const auto& r = stats.registries[0];
  CHECK(r.repositories == 2);
  CHECK(r.tags == 1);
  CHECK(r.manifests == 2);
  CHECK(r.blobs == 5);
  CHECK(r.blob_bytes == 1657);
  CHECK(r.unreferenced_blobs == 1);
  CHECK(r.unreferenced_bytes == 7);
  CHECK(stats.total_bytes == w.store->index().total_bytes());

  const auto json = to_json(rows);
  CHECK(json[0]["tag"] == "1.0");
  CHECK(json[1]["tag"].is_null());
  CHECK(json[0]["last_access"] == "2023-11-14T22:13:20Z");
  (void)stray;
}

TEST_CASE("rm removes what a reference names and the blobs nothing else uses") {
  World w;
  const auto config = w.blob(100, 1), layer = w.blob(1000, 2), shared = w.blob(500, 3);
  const auto app = w.manifest("library/app", image_manifest({config, layer, shared}), "1.0");
  const auto other_config = w.blob(50, 4);
  const auto other = w.manifest("other", image_manifest({other_config, shared}), "latest");
  const auto app_tag = fmt::format("tag/{}/library/app:1.0#application/json", kReg);
  const auto app_manifest = fmt::format("manifest/{}/library/app@{}", kReg, app.str());

  SECTION("a tag: the tag, its untagged manifest and its own blobs; shared blobs stay") {
    const auto plan = w.remove(std::string(kReg) + "/library/app:1.0");
    CHECK(plan.tags == 1);
    CHECK(plan.manifests == 1);
    CHECK(plan.blobs == 2);
    CHECK_FALSE(w.has(app_tag));
    CHECK_FALSE(w.has(app_manifest));
    CHECK_FALSE(w.file_exists(app));
    CHECK_FALSE(w.blob_cached(config));
    CHECK_FALSE(w.file_exists(layer));
    CHECK(w.blob_cached(shared));
    CHECK(w.file_exists(shared));
    CHECK(w.has(fmt::format("manifest/{}/other@{}", kReg, other.str())));
  }
  SECTION("a tag only") {
    const auto plan = w.remove(std::string(kReg) + "/library/app:1.0", /*tag_only=*/true);
    CHECK(plan.keys == std::vector<std::string>{app_tag});
    CHECK(w.has(app_manifest));
    CHECK(w.file_exists(app));
    CHECK(w.blob_cached(layer));
  }
  SECTION("a tag another tag shares keeps the manifest and blobs") {
    REQUIRE_FALSE(store_content(*w.store, fmt::format("tag/{}/library/app:stable#application/json", kReg),
                                image_manifest({config, layer, shared}), kT0));
    const auto plan = w.remove(std::string(kReg) + "/library/app:1.0");
    CHECK(plan.keys == std::vector<std::string>{app_tag});
    CHECK(w.has(app_manifest));
    CHECK(w.blob_cached(layer));
  }
  SECTION("a digest: the manifest and every tag pointing at it") {
    const auto plan = w.remove(std::string(kReg) + "/library/app@" + app.str());
    CHECK(plan.tags == 1);
    CHECK(plan.manifests == 1);
    CHECK(plan.blobs == 2);
    CHECK_FALSE(w.has(app_tag));
    CHECK_FALSE(w.blob_cached(layer));
    CHECK(w.blob_cached(shared));
  }
  SECTION("a blob digest removes that blob alone") {
    const auto plan = w.remove(std::string(kReg) + "/library/app@" + layer.str());
    CHECK(plan.blobs == 1);
    CHECK(plan.keys.size() == 1);
    CHECK_FALSE(w.blob_cached(layer));
    CHECK_FALSE(w.file_exists(layer));
    CHECK(w.has(app_tag));
  }
  SECTION("a repository, then the last user of the shared blob") {
    w.remove(std::string(kReg) + "/library/app");
    CHECK(w.blob_cached(shared));
    CHECK(w.blob_cached(other_config));
    const auto plan = w.remove(std::string(kReg) + "/other");
    CHECK(plan.tags == 1);
    CHECK(plan.manifests == 1);
    CHECK(plan.blobs == 2);
    CHECK(w.store->index().entry_count() == 0);
    CHECK(w.store->index().total_bytes() == 0);
    CHECK(w.store->index().file_count() == 0);
  }
  SECTION("unknown names say so and change nothing") {
    const auto entries = w.store->index().entry_count();
    CHECK_THAT(w.remove(std::string(kReg) + "/library/app:2.0").error, Catch::Contains("nothing cached"));
    CHECK_THAT(w.remove(std::string(kReg) + "/nope").error, Catch::Contains("nothing cached"));
    CHECK_THAT(w.remove("elsewhere.io/library/app").error, Catch::Contains("registry elsewhere.io"));
    CHECK_THAT(w.remove(std::string(kReg) + "/library/app@" + digest_of("x").str()).error,
               Catch::Contains("nothing cached"));
    CHECK(w.store->index().entry_count() == entries);
  }
}

TEST_CASE("rm of an index removes its children unless another tag uses them") {
  World w;
  const auto amd_config = w.blob(10, 1), amd_layer = w.blob(20, 2);
  const auto arm_config = w.blob(30, 3), arm_layer = w.blob(40, 4);
  const auto amd = w.manifest("multi", image_manifest({amd_config, amd_layer}));
  const auto arm = w.manifest("multi", image_manifest({arm_config, arm_layer}), "arm-only");
  const auto index = w.manifest("multi", index_manifest({amd, arm}), "latest");

  const auto rows = list_images(w.snapshot(), std::string(kReg) + "/multi");
  const auto latest = std::find_if(rows.begin(), rows.end(), [](const ImageRow& r) { return r.tag == "latest"; });
  REQUIRE(latest != rows.end());
  CHECK(latest->blobs_cached == 4);

  const auto plan = w.remove(std::string(kReg) + "/multi:latest");
  CHECK(plan.manifests == 2);  // the index and the amd64 child; arm64 is still tagged
  CHECK_FALSE(w.has(fmt::format("manifest/{}/multi@{}", kReg, index.str())));
  CHECK_FALSE(w.has(fmt::format("manifest/{}/multi@{}", kReg, amd.str())));
  CHECK(w.has(fmt::format("manifest/{}/multi@{}", kReg, arm.str())));
  CHECK_FALSE(w.blob_cached(amd_layer));
  CHECK(w.blob_cached(arm_layer));
}

TEST_CASE("gc evicts down to the cap and removes orphan files") {
  World w;
  const auto old_blob = w.blob(4000, 1);
  REQUIRE_FALSE(store_content(*w.store, std::string("blob/") + kReg + "/" + digest_of(make_content(3000, 2)).str(),
                              make_content(3000, 2), kT0 + 10s));
  const auto orphan = w.store->blobs().blob_path(digest_of("orphan"));
  std::filesystem::create_directories(orphan.parent_path());
  { std::ofstream(orphan) << "orphan"; }

  const auto result = collect_garbage(*w.store, 3500);
  CHECK(result.bytes_before == 7000);
  CHECK(result.bytes_after == 3000);
  CHECK(result.evicted.files == 1);
  CHECK(result.reconciled.unindexed_files == 1);
  CHECK_FALSE(std::filesystem::exists(orphan));
  CHECK_FALSE(w.blob_cached(old_blob));
  CHECK(to_json(result)["evicted_bytes"] == 4000);
}

TEST_CASE("Index::open_reader reads an index another instance holds open") {
  World w;
  const auto layer = w.blob(1000, 2);
  auto reader = Index::open_reader(w.dir.path() / "cache" / "index");
  CHECK(reader->total_bytes() == 1000);
  CHECK(reader->get(std::string("blob/") + kReg + "/" + layer.str()));
  CHECK(reader->remove(std::string("blob/") + kReg + "/" + layer.str()).error);
  CHECK(w.blob_cached(layer));
  CHECK_THROWS_WITH(Index::open_reader(w.dir.path() / "nowhere"), Catch::Contains("no cache index"));
}
