#include "cache/cache_key.hpp"

#include <catch2/catch.hpp>

using namespace pt::cache;

namespace {
const std::string kDigest = "sha256:" + std::string(64, 'c');
}

TEST_CASE("registry_authority omits the default HTTPS port and lower-cases") {
  CHECK(registry_authority("Registry-1.Docker.IO", 443) == "registry-1.docker.io");
  CHECK(registry_authority("localhost", 5000) == "localhost:5000");
}

TEST_CASE("key_registry names a reference's registry as cache keys do") {
  for (const char* hub : {"docker.io", "Index.Docker.io", "registry.hub.docker.com", "registry-1.docker.io",
                          "docker.io:443"}) {
    CHECK(key_registry(hub) == "registry-1.docker.io");
  }
  CHECK(key_registry("Quay.io:443") == "quay.io");
  CHECK(key_registry("localhost:5000") == "localhost:5000");
  CHECK(key_registry("docker.io:5000") == "docker.io:5000");
}

TEST_CASE("accept_variant normalises Accept headers") {
  CHECK(accept_variant("") == "");
  CHECK(accept_variant("application/json") == "application/json");
  CHECK(accept_variant(" application/vnd.oci.image.index.v1+json ; q=0.5,"
                       "Application/VND.Docker.Distribution.Manifest.V2+JSON,,") ==
        "application/vnd.docker.distribution.manifest.v2+json,"
        "application/vnd.oci.image.index.v1+json");
  // Order, q-values, whitespace and duplicates do not matter.
  CHECK(accept_variant("b/b;q=0.1, a/a, b/b") == accept_variant("a/a,b/b"));
  CHECK(accept_variant("a/a") != accept_variant("a/a,b/b"));
}

TEST_CASE("cache_key shares blobs across repositories and keys one record per tag") {
  const auto blob_a = classify_request("GET", "/v2/library/nginx/blobs/" + kDigest);
  const auto blob_b = classify_request("HEAD", "/v2/other/repo/blobs/" + kDigest);
  CHECK(cache_key(blob_a, "registry-1.docker.io") == "blob/registry-1.docker.io/" + kDigest);
  CHECK(cache_key(blob_a, "r") == cache_key(blob_b, "r"));
  CHECK(cache_key(blob_a, "r") != cache_key(blob_a, "r:5000"));

  const auto manifest = classify_request("GET", "/v2/library/nginx/manifests/" + kDigest);
  CHECK(cache_key(manifest, "r") == "manifest/r/library/nginx@" + kDigest);
  CHECK(manifest_key("r", "library/nginx", *Digest::parse(kDigest)) == cache_key(manifest, "r"));

  // Every client's Accept shares the tag's record; only concurrent fetches are told apart by it.
  const auto tag = classify_request("GET", "/v2/library/nginx/manifests/latest");
  CHECK(cache_key(tag, "r") == "tag/r/library/nginx:latest");
  CHECK(tag_fill_key("tag/r/library/nginx:latest", "b/b, a/a;q=0.1") == "tag/r/library/nginx:latest#a/a,b/b");
  CHECK(is_legacy_tag_key("tag/r/library/nginx:latest#a/a,b/b"));
  CHECK_FALSE(is_legacy_tag_key("tag/r/library/nginx:latest"));
}

TEST_CASE("registry_authority names Docker Hub one way whichever of its names was connected to") {
  CHECK(registry_authority("index.docker.io", 443) == "registry-1.docker.io");
  CHECK(registry_authority("Registry-1.Docker.io", 443) == "registry-1.docker.io");
  CHECK(registry_authority("docker.io", 443) == "registry-1.docker.io");
  CHECK(registry_authority("docker.io", 5000) == "docker.io:5000");  // another server
  CHECK(registry_authority("Quay.io", 443) == "quay.io");
}

TEST_CASE("cache_key keeps different requests apart") {
  // With '/' as the only separator these two would collide.
  const auto nested = classify_request("GET", "/v2/a/b/manifests/c");
  const auto flat = classify_request("GET", "/v2/a/manifests/b");
  CHECK(cache_key(nested, "r") != cache_key(flat, "r"));
}

TEST_CASE("cache_key refuses uncacheable kinds and odd registries") {
  CHECK_FALSE(cache_key(classify_request("GET", "/v2/"), "r"));
  CHECK_FALSE(cache_key(classify_request("GET", "/v2/a/tags/list"), "r"));
  CHECK_FALSE(cache_key(classify_request("PUT", "/v2/a/manifests/x"), "r"));
  const auto tag = classify_request("GET", "/v2/a/manifests/x");
  CHECK_FALSE(cache_key(tag, ""));
  CHECK_FALSE(cache_key(tag, "evil/host"));
  CHECK_FALSE(cache_key(tag, "host#x"));
}

TEST_CASE("referrers lists are keyed by subject and filter") {
  RegistryRequest all{.kind = RequestKind::referrers, .repository = "org/app", .reference = kDigest,
                      .digest = Digest::parse(kDigest)};
  auto signatures = all;
  signatures.artifact_type = "application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson";
  CHECK(cache_key(all, "ghcr.io") == "referrers/ghcr.io/org/app@" + kDigest);
  CHECK(cache_key(signatures, "ghcr.io") ==
        "referrers/ghcr.io/org/app@" + kDigest + "?artifactType=application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson");
  CHECK(cache_key(all, "ghcr.io") != cache_key(all, "quay.io"));
}
