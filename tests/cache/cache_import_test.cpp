// cache export and cache import together: an archive written from one cache, read into another,
// and the ways a damaged or hostile archive is refused with the cache left as it was.
#include "cache/cache_import.hpp"

#include "cache/cache_admin.hpp"
#include "cache/cache_export.hpp"
#include "cache/cache_key.hpp"
#include "store_helpers.hpp"
#include "tar_test_helpers.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

using namespace pt::cache;
using namespace pt::cache::test;
using pt::ImageReference;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));
constexpr const char* kReg = "registry.test:5000";
constexpr const char* kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndexType = "application/vnd.oci.image.index.v1+json";

std::unique_ptr<CacheStore> open_store(const std::filesystem::path& dir) {
  CacheSettings settings;
  settings.directory = dir;
  settings.max_bytes = 1ull << 30;
  return CacheStore::open(settings);
}

std::string image_manifest(const Digest& config, const std::vector<Digest>& layers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& layer : layers) list.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", layer.str()}, {"size", 1}});
  return nlohmann::json{{"schemaVersion", 2},
                        {"mediaType", kOciManifestType},
                        {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config.str()}, {"size", 1}}},
                        {"layers", list}}
      .dump();
}

// A cache as pulls leave it.
struct Source {
  TempDir dir;
  std::unique_ptr<CacheStore> store = open_store(dir.path() / "cache");

  Digest blob(std::string_view content) {
    const auto digest = digest_of(content);
    REQUIRE_FALSE(store_typed(*store, fmt::format("blob/{}/{}", kReg, digest.str()), content, "application/octet-stream", kT0));
    return digest;
  }
  Digest manifest(const std::string& repository, const std::string& body, const char* media_type) {
    const auto digest = digest_of(body);
    REQUIRE_FALSE(store_typed(*store, manifest_key(kReg, repository, digest), body, media_type, kT0));
    return digest;
  }
  void tag(const std::string& repository, const std::string& tag, const Digest& digest, const char* media_type,
           std::uint64_t size) {
    REQUIRE_FALSE(store->record_tag_variant(fmt::format("tag/{}/{}:{}", kReg, repository, tag),
                                            {.digest = digest, .media_type = media_type, .size = size, .fetched = kT0},
                                            kT0, false, digest));
  }
};

ImageReference reference(const std::string& text) {
  auto parsed = parse_image_reference(text);
  REQUIRE(parsed.reference);
  return *parsed.reference;
}

std::string export_archive(Source& source, const std::vector<std::string>& names, ExportPlan* plan_out = nullptr) {
  std::vector<ImageReference> references;
  for (const auto& name : names) references.push_back(reference(name));
  const auto plan = plan_export(source.store->index(), source.store->blobs(), references);
  REQUIRE(plan.errors.empty());
  std::string archive;
  const auto result = write_export(plan, source.store->blobs(), string_sink(archive));
  REQUIRE(result.error.empty());
  if (plan_out) *plan_out = plan;
  return archive;
}

// What an index holds, to compare before and after a refused import.
std::vector<std::string> index_keys(CacheStore& store) {
  std::vector<std::string> keys;
  store.index().for_each_entry([&](const IndexEntry& entry) {
    keys.push_back(entry.key);
    return true;
  });
  store.index().for_each_tag([&](const TagRecord& record) {
    keys.push_back(record.key);
    return true;
  });
  return keys;
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) count += entry.is_regular_file();
  return count;
}

// A single-platform image app:1.0 and a two-platform index multi:2.0 of which only amd64 is cached.
struct Images {
  explicit Images(Source& source)
      : config(source.blob("config-1")),
        layer(source.blob(make_content(100000, 3))),
        manifest_body(image_manifest(config, {layer})),
        manifest(source.manifest("library/app", manifest_body, kOciManifestType)),
        amd64_config(source.blob("config-amd64")),
        amd64_layer(source.blob("layer-amd64")),
        amd64_body(image_manifest(amd64_config, {amd64_layer})),
        amd64(source.manifest("team/multi", amd64_body, kOciManifestType)),
        arm64(digest_of("arm64 manifest, never pulled")),
        index_body(nlohmann::json{
            {"schemaVersion", 2},
            {"mediaType", kOciIndexType},
            {"manifests",
             {{{"mediaType", kOciManifestType}, {"digest", amd64.str()}, {"size", amd64_body.size()},
               {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
              {{"mediaType", kOciManifestType}, {"digest", arm64.str()}, {"size", 28},
               {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}}}}}
                       .dump()),
        index(source.manifest("team/multi", index_body, kOciIndexType)) {
    source.tag("library/app", "1.0", manifest, kOciManifestType, manifest_body.size());
    source.tag("team/multi", "2.0", index, kOciIndexType, index_body.size());
  }
  Digest config, layer;
  std::string manifest_body;
  Digest manifest, amd64_config, amd64_layer;
  std::string amd64_body;
  Digest amd64, arm64;
  std::string index_body;
  Digest index;
};

Images cache_images(Source& source) { return Images(source); }

StageResult stage(CacheStore& store, const std::string& archive) {
  return stage_import(store.blobs(), memory_source(archive));
}

// An archive by hand: oci-layout, index.json and the given blobs.
std::string layout_archive(const std::string& index_json, const std::vector<std::string>& blobs) {
  std::string archive;
  TarWriter tar(string_sink(archive));
  REQUIRE_FALSE(tar.add_file("oci-layout", oci_layout_json()));
  REQUIRE_FALSE(tar.add_file("index.json", index_json));
  for (const auto& blob : blobs) REQUIRE_FALSE(tar.add_file(oci_blob_path(digest_of(blob)), blob));
  REQUIRE_FALSE(tar.finish());
  return archive;
}

}  // namespace

TEST_CASE("export: every cached platform, the others skipped and named") {
  Source source;
  const auto images = cache_images(source);
  ExportPlan plan;
  export_archive(source, {"registry.test:5000/library/app:1.0", "registry.test:5000/team/multi:2.0"}, &plan);
  REQUIRE(plan.images.size() == 2);
  CHECK(plan.images[0].top->digest == images.manifest);
  CHECK(plan.images[0].blobs == std::vector<Digest>{images.config, images.layer});
  CHECK(plan.images[1].top->media_type == kOciIndexType);
  CHECK(plan.images[1].manifests == std::vector<Digest>{images.index, images.amd64});
  REQUIRE(plan.images[1].skipped.size() == 1);
  CHECK_THAT(plan.images[1].skipped[0], Catch::Contains("linux/arm64") && Catch::Contains("not cached"));
}

TEST_CASE("export: an image not cached, or incomplete, is an error") {
  Source source;
  const auto images = cache_images(source);
  const auto plan = plan_export(source.store->index(), source.store->blobs(),
                                {reference("registry.test:5000/library/app:9.9"), reference("registry.test:5000/library/app:1.0")});
  REQUIRE(plan.errors.size() == 1);
  CHECK_THAT(plan.errors[0], Catch::Contains("registry.test:5000/library/app:9.9: not cached"));
  source.store->remove_entry(fmt::format("blob/{}/{}", kReg, images.layer.str()));
  const auto incomplete = plan_export(source.store->index(), source.store->blobs(), {reference("registry.test:5000/library/app:1.0")});
  REQUIRE(incomplete.errors.size() == 1);
  CHECK_THAT(incomplete.errors[0], Catch::Contains("not cached"));
}

TEST_CASE("import: an exported archive indexes the images as pulls would") {
  Source source;
  const auto images = cache_images(source);
  const auto archive =
      export_archive(source, {"registry.test:5000/library/app:1.0", "registry.test:5000/team/multi:2.0"});

  TempDir target_dir;
  auto target = open_store(target_dir.path());
  auto staged = stage(*target, archive);
  REQUIRE(staged.error.empty());
  REQUIRE(staged.staged->images.size() == 2);
  CHECK(staged.staged->images[1].notes.size() == 1);  // arm64 was never cached
  const auto now = kT0 + std::chrono::hours(1);
  const auto result = commit_import(*target, *staged.staged, now);
  REQUIRE(result.error.empty());
  CHECK(result.tags == 2);

  for (const auto& blob : {images.config, images.layer, images.amd64_config, images.amd64_layer}) {
    const auto hit = target->lookup(fmt::format("blob/{}/{}", kReg, blob.str()), now);
    REQUIRE(hit);
    CHECK(hit->entry.digest == blob);
  }
  const auto manifest = target->lookup(manifest_key(kReg, "library/app", images.manifest), now);
  REQUIRE(manifest);
  CHECK(manifest->entry.media_type == kOciManifestType);
  CHECK(target->lookup(manifest_key(kReg, "team/multi", images.index), now));
  CHECK(target->lookup(manifest_key(kReg, "team/multi", images.amd64), now));
  CHECK_FALSE(target->lookup(manifest_key(kReg, "team/multi", images.arm64), now));

  const auto tag = target->tag(fmt::format("tag/{}/team/multi:2.0", kReg));
  REQUIRE(tag);
  REQUIRE(tag->variants.size() == 1);
  CHECK(tag->variants[0].digest == images.index);
  CHECK(tag->variants[0].media_type == kOciIndexType);
  CHECK(tag->head_digest == images.index);
  CHECK(tag->fresh_until == now);  // revalidated when the registry can be asked, STALE until then

  // Importing again adds nothing.
  auto again = stage(*target, archive);
  REQUIRE(again.staged);
  const auto second = commit_import(*target, *again.staged, now);
  CHECK(second.error.empty());
  CHECK(second.entries_added == 0);
  CHECK(second.files_written == 0);
}

TEST_CASE("import: Docker Hub names go under registry-1.docker.io") {
  const auto config = std::string("cfg"), layer = std::string("lyr");
  const auto manifest = image_manifest(digest_of(config), {digest_of(layer)});
  const auto index = oci_index_json({{.descriptor = {.media_type = kOciManifestType, .digest = digest_of(manifest), .size = manifest.size()},
                                      .name = "docker.io/library/alpine:3.19"}});
  TempDir dir;
  auto store = open_store(dir.path());
  auto staged = stage(*store, layout_archive(index, {config, layer, manifest}));
  REQUIRE(staged.error.empty());
  REQUIRE(commit_import(*store, *staged.staged, kT0).error.empty());
  CHECK(store->tag("tag/registry-1.docker.io/library/alpine:3.19"));
  CHECK(store->index().get(manifest_key("registry-1.docker.io", "library/alpine", digest_of(manifest))));
}

TEST_CASE("import: damaged and hostile archives are refused and change nothing") {
  Source source;
  const auto images = cache_images(source);
  const auto archive = export_archive(source, {"registry.test:5000/library/app:1.0"});

  TempDir target_dir;
  auto target = open_store(target_dir.path());
  // Something cached already, which must stay exactly so.
  const auto old_blob = digest_of("old");
  REQUIRE_FALSE(store_typed(*target, fmt::format("blob/{}/{}", kReg, old_blob.str()), "old", "application/octet-stream", kT0));
  const auto keys_before = index_keys(*target);
  const auto files_before = files_in(target_dir.path() / "blobs");

  const auto refused = [&](const std::string& bytes, const std::string& why) {
    INFO(why);
    auto staged = stage(*target, bytes);
    CHECK_FALSE(staged.staged);
    CHECK_THAT(staged.error, Catch::Contains(why));
    CHECK(index_keys(*target) == keys_before);
    CHECK(files_in(target_dir.path() / "blobs") == files_before);
    CHECK(files_in(target_dir.path() / "tmp") == 0);  // staged files deleted
  };

  SECTION("a flipped byte in a blob") {
    auto damaged = archive;
    const auto at = damaged.find(make_content(100000, 3).substr(5000, 64));
    REQUIRE(at != std::string::npos);
    damaged[at] ^= 1;
    refused(damaged, "does not match its digest");
  }
  SECTION("truncated") {
    refused(archive.substr(0, archive.size() / 2), "truncated");
    refused(archive.substr(0, archive.size() - 1024), "truncated");
  }
  SECTION("a path climbing out") {
    std::string evil;
    TarWriter tar(string_sink(evil));
    REQUIRE_FALSE(tar.add_file("oci-layout", oci_layout_json()));
    evil += tar_header("../../etc/cron.d/x", '0', 1) + tar_padded("x") + tar_end();
    refused(evil, "unsafe path");
    refused(tar_header("/abs", '0', 0) + tar_end(), "unsafe path");
  }
  SECTION("a symbolic link") {
    refused(tar_header("blobs/sha256/" + std::string(images.layer.hex()), '2', 0) + tar_end(), "symbolic link");
  }
  SECTION("a blob referenced but missing") {
    const auto manifest = image_manifest(digest_of("c"), {digest_of("missing layer")});
    const auto index = oci_index_json({{.descriptor = {.media_type = kOciManifestType, .digest = digest_of(manifest), .size = manifest.size()},
                                        .name = "registry.test:5000/library/app:1.0"}});
    refused(layout_archive(index, {"c", manifest}), "does not hold");
  }
  SECTION("index.json: malformed, oversized, unnamed, missing") {
    refused(layout_archive("{not json", {}), "index.json is not valid JSON");
    refused(layout_archive(std::string(5 << 20, ' '), {}), "more than the limit");
    const auto manifest = image_manifest(digest_of("c"), {});
    nlohmann::json unnamed = {{"manifests", {{{"digest", digest_of(manifest).str()}, {"size", manifest.size()}}}}};
    refused(layout_archive(unnamed.dump(), {"c", manifest}), "has no name");
    nlohmann::json short_name = {{"manifests", {{{"digest", digest_of(manifest).str()}, {"size", manifest.size()},
                                                  {"annotations", {{"org.opencontainers.image.ref.name", "1.0"}}}}}}};
    refused(layout_archive(short_name.dump(), {"c", manifest}), "bad image reference");
    std::string no_index;
    TarWriter tar(string_sink(no_index));
    REQUIRE_FALSE(tar.add_file("oci-layout", oci_layout_json()));
    REQUIRE_FALSE(tar.finish());
    refused(no_index, "no index.json");
  }
  SECTION("not a tar at all") { refused(std::string(4096, 'x'), "checksum"); }
}

TEST_CASE("import: a descriptor whose size or media type lies is refused") {
  const auto manifest = image_manifest(digest_of("c"), {});
  TempDir dir;
  auto store = open_store(dir.path());
  const auto wrong_size = oci_index_json({{.descriptor = {.media_type = kOciManifestType, .digest = digest_of(manifest), .size = 3},
                                           .name = "registry.test:5000/a:1"}});
  CHECK_THAT(stage(*store, layout_archive(wrong_size, {"c", manifest})).error, Catch::Contains("its descriptor says 3"));
  const auto wrong_type = oci_index_json({{.descriptor = {.media_type = kOciIndexType, .digest = digest_of(manifest), .size = manifest.size()},
                                           .name = "registry.test:5000/a:1"}});
  CHECK_THAT(stage(*store, layout_archive(wrong_type, {"c", manifest})).error, Catch::Contains("calls itself"));
}
