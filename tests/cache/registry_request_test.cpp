#include "cache/registry_request.hpp"

#include <catch2/catch.hpp>

using pt::cache::classify_request;
using pt::cache::RequestKind;

namespace {
const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kDigest = "sha256:" + kHex;
}  // namespace

TEST_CASE("classify_request recognises the registry API") {
  struct Row {
    std::string method;
    std::string target;
    RequestKind kind;
    std::string repository;
  };
  const std::vector<Row> rows = {
      {"GET", "/v2/", RequestKind::ping, ""},
      {"HEAD", "/v2/", RequestKind::ping, ""},
      {"GET", "/v2/library/nginx/blobs/" + kDigest, RequestKind::blob, "library/nginx"},
      {"HEAD", "/v2/a/b/c/blobs/" + kDigest, RequestKind::blob, "a/b/c"},
      {"GET", "/v2/library/nginx/manifests/" + kDigest, RequestKind::manifest_by_digest,
       "library/nginx"},
      {"GET", "/v2/library/nginx/manifests/latest", RequestKind::manifest_by_tag, "library/nginx"},
      {"HEAD", "/v2/my-org/my_app.v2/manifests/1.25.3-alpine", RequestKind::manifest_by_tag,
       "my-org/my_app.v2"},
      {"GET", "/v2/library/nginx/tags/list", RequestKind::tag_list, "library/nginx"},
      {"GET", "/v2/library/nginx/tags/list?n=10&last=a", RequestKind::tag_list, "library/nginx"},
      {"GET", "/v2/_catalog", RequestKind::catalog, ""},
      {"GET", "/v2/_catalog?n=100", RequestKind::catalog, ""},
      // A repository may contain path components named like API keywords.
      {"GET", "/v2/blobs/manifests/manifests/v1", RequestKind::manifest_by_tag,
       "blobs/manifests"},
      {"GET", "/v2/a__b/c---d/manifests/x", RequestKind::manifest_by_tag, "a__b/c---d"},
  };
  for (const auto& row : rows) {
    INFO(row.method << " " << row.target);
    const auto request = classify_request(row.method, row.target);
    CHECK(request.kind == row.kind);
    CHECK(request.repository == row.repository);
    CHECK(request.is_head == (row.method == "HEAD"));
  }
}

TEST_CASE("classify_request extracts references and digests") {
  const auto blob = classify_request("GET", "/v2/library/nginx/blobs/" + kDigest);
  REQUIRE(blob.digest);
  CHECK(blob.digest->str() == kDigest);
  CHECK(blob.reference == kDigest);

  const auto tag = classify_request("GET", "/v2/library/nginx/manifests/stable");
  CHECK(tag.reference == "stable");
  CHECK_FALSE(tag.digest);
}

TEST_CASE("classify_request treats writes and uploads as push") {
  for (const auto* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    CHECK(classify_request(method, "/v2/library/nginx/manifests/latest").kind ==
          RequestKind::push);
    CHECK(classify_request(method, "/v2/").kind == RequestKind::push);
  }
  CHECK(classify_request("GET", "/v2/library/nginx/blobs/uploads/1234-abcd").kind ==
        RequestKind::push);
  CHECK(classify_request("GET", "/v2/library/nginx/blobs/uploads/").kind == RequestKind::push);
}

TEST_CASE("classify_request rejects malformed and hostile requests") {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"OPTIONS", "/v2/"},
      {"GET", "/v2"},
      {"GET", "/"},
      {"GET", "/v1/library/nginx/manifests/latest"},
      {"GET", "/v2/../etc/passwd/blobs/" + kDigest},
      {"GET", "/v2/library/../nginx/manifests/latest"},
      {"GET", "/v2/library/./nginx/manifests/latest"},
      {"GET", "/v2/library//nginx/manifests/latest"},
      {"GET", "/v2/library/nginx/manifests/%2e%2e"},
      {"GET", "/v2/library%2Fnginx/manifests/latest"},
      {"GET", "/v2/Library/nginx/manifests/latest"},  // upper case is not a repository name
      {"GET", "/v2/library/nginx/manifests/"},
      {"GET", "/v2/library/nginx/manifests/-latest"},
      {"GET", "/v2/library/nginx/manifests/" + std::string(129, 'a')},
      {"GET", "/v2/library/nginx/manifests/la test"},
      {"GET", "/v2/library/nginx/blobs/latest"},  // blobs need a digest
      {"GET", "/v2/library/nginx/blobs/sha256:" + kHex.substr(1)},
      {"GET", "/v2/library/nginx/blobs/sha256:" + std::string(64, 'A')},
      {"GET", "/v2/library/nginx/blobs/sha512:" + kHex + kHex},  // valid, but not cacheable
      {"GET", "/v2/library/nginx/manifests/sha512:" + kHex + kHex},
      {"GET", "/v2/library/nginx/blobs/" + kDigest + "?x=1"},
      {"GET", "/v2/library/nginx/manifests/latest#frag"},
      {"GET", "/v2/library/nginx/manifests/latest/"},
      {"GET", "/v2/library/nginx/"},
      {"GET", "/v2/manifests/latest"},  // no repository name
      {"GET", "/v2/a..b/manifests/latest"},
      {"GET", "/v2/a___b/manifests/latest"},
      {"GET", "/v2/-a/manifests/latest"},
      {"GET", "/v2/a-/manifests/latest"},
      {"GET", "/v2/a\\b/manifests/latest"},
      {"GET", "/v2/" + std::string(256, 'a') + "/manifests/latest"},
  };
  for (const auto& [method, target] : rows) {
    INFO(method << " " << target);
    const auto request = classify_request(method, target);
    CHECK(request.kind == RequestKind::other);
    CHECK(request.repository.empty());
    CHECK_FALSE(request.digest);
  }
}

TEST_CASE("repository names and tags follow the distribution grammar") {
  CHECK(pt::cache::is_valid_repository_name("library/nginx"));
  CHECK(pt::cache::is_valid_repository_name("a.b_c__d-e--f/g0"));
  CHECK_FALSE(pt::cache::is_valid_repository_name(""));
  CHECK_FALSE(pt::cache::is_valid_repository_name("a/"));
  CHECK_FALSE(pt::cache::is_valid_repository_name("a._b"));
  CHECK(pt::cache::is_valid_tag("_"));
  CHECK(pt::cache::is_valid_tag("v1.2.3-rc.1_x"));
  CHECK(pt::cache::is_valid_tag(std::string(128, 'a')));
  CHECK_FALSE(pt::cache::is_valid_tag(std::string(129, 'a')));
  CHECK_FALSE(pt::cache::is_valid_tag(".hidden"));
  CHECK_FALSE(pt::cache::is_valid_tag("a:b"));
}

TEST_CASE("classify_request: OCI referrers lists, with or without an artifactType filter") {
  auto plain = classify_request("GET", "/v2/org/app/referrers/" + kDigest);
  CHECK(plain.kind == RequestKind::referrers);
  CHECK(plain.repository == "org/app");
  REQUIRE(plain.digest);
  CHECK(plain.digest->str() == kDigest);
  CHECK(plain.artifact_type.empty());

  auto filtered =
      classify_request("HEAD", "/v2/org/app/referrers/" + kDigest + "?artifactType=application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson");
  CHECK(filtered.kind == RequestKind::referrers);
  CHECK(filtered.is_head);
  CHECK(filtered.artifact_type == "application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson");

  // Not the plain list a cache entry stands for, or not a digest: relayed (kind other).
  CHECK(classify_request("GET", "/v2/org/app/referrers/" + kDigest + "?n=10").kind == RequestKind::other);
  CHECK(classify_request("GET", "/v2/org/app/referrers/" + kDigest + "?artifactType=a&b=c").kind == RequestKind::other);
  CHECK(classify_request("GET", "/v2/org/app/referrers/" + kDigest + "?artifactType=").kind == RequestKind::other);
  CHECK(classify_request("GET", "/v2/org/app/referrers/latest").kind == RequestKind::other);
  CHECK(classify_request("GET", "/v2/referrers/" + kDigest).kind == RequestKind::other);
}
