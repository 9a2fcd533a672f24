#include "cache/cache_policy.hpp"

#include <catch2/catch.hpp>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {
const std::string kDigest = "sha256:" + std::string(64, 'd');
const std::string kOtherDigest = "sha256:" + std::string(64, 'e');
}  // namespace

TEST_CASE("decide") {
  const auto now = now_timestamp();
  const auto blob = classify_request("GET", "/v2/a/blobs/" + kDigest);
  const auto blob_head = classify_request("HEAD", "/v2/a/blobs/" + kDigest);
  const auto by_digest = classify_request("GET", "/v2/a/manifests/" + kDigest);
  const auto tag = classify_request("GET", "/v2/a/manifests/latest");
  const auto tag_head = classify_request("HEAD", "/v2/a/manifests/latest");
  const auto ping = classify_request("GET", "/v2/");
  const auto tags = classify_request("GET", "/v2/a/tags/list");
  const auto push = classify_request("PUT", "/v2/a/manifests/latest");

  struct Row {
    const RegistryRequest* request;
    std::optional<Timestamp> fresh_until;
    CacheAction expected;
  };
  const std::vector<Row> rows = {
      {&blob, std::nullopt, CacheAction::fill},
      {&blob_head, std::nullopt, CacheAction::forward},
      {&blob, kForever, CacheAction::serve_cached},
      {&blob, now - 1s, CacheAction::serve_cached},  // digests never go stale
      {&blob_head, kForever, CacheAction::serve_cached},
      {&by_digest, std::nullopt, CacheAction::fill},
      {&by_digest, kForever, CacheAction::serve_cached},
      {&tag, std::nullopt, CacheAction::fill},
      {&tag, now + 30s, CacheAction::serve_cached},
      {&tag, now, CacheAction::revalidate},
      {&tag, now - 1s, CacheAction::revalidate},
      {&tag_head, now + 30s, CacheAction::serve_cached},
      {&tag_head, now - 1s, CacheAction::revalidate},
      {&tag_head, std::nullopt, CacheAction::forward},
      {&ping, std::nullopt, CacheAction::bypass},
      {&tags, now + 30s, CacheAction::bypass},
      {&push, std::nullopt, CacheAction::bypass},
  };
  for (const auto& row : rows) {
    INFO(to_string(row.request->kind) << (row.request->is_head ? " HEAD" : " GET"));
    CHECK(decide(*row.request, row.fresh_until, now) == row.expected);
  }
  CHECK(planned_status(CacheAction::serve_cached) == CacheStatus::hit);
  CHECK(planned_status(CacheAction::fill) == CacheStatus::miss);
  CHECK(planned_status(CacheAction::forward) == CacheStatus::miss);
  CHECK(planned_status(CacheAction::bypass) == CacheStatus::bypass);
}

TEST_CASE("CacheStatus names") {
  CHECK(to_string(CacheStatus::hit) == "HIT");
  CHECK(to_string(CacheStatus::miss) == "MISS");
  CHECK(to_string(CacheStatus::revalidated) == "REVALIDATED");
  CHECK(to_string(CacheStatus::stale) == "STALE");
  CHECK(to_string(CacheStatus::bypass) == "BYPASS");
}

TEST_CASE("is_cacheable_response") {
  CHECK(is_cacheable_response(RequestKind::blob, 200, ""));
  CHECK_FALSE(is_cacheable_response(RequestKind::blob, 206, ""));
  CHECK_FALSE(is_cacheable_response(RequestKind::blob, 404, ""));
  CHECK_FALSE(is_cacheable_response(RequestKind::blob, 307, ""));
  CHECK(is_cacheable_response(RequestKind::blob, 200, "no-store"));  // verified by digest
  CHECK(is_cacheable_response(RequestKind::manifest_by_tag, 200, "max-age=0, private"));
  CHECK_FALSE(is_cacheable_response(RequestKind::manifest_by_tag, 200, "max-age=0, No-Store"));
  CHECK(is_cacheable_response(RequestKind::referrers, 200, ""));
  CHECK_FALSE(is_cacheable_response(RequestKind::referrers, 404, ""));  // a registry without the API
  CHECK_FALSE(is_cacheable_response(RequestKind::referrers, 200, "no-store"));
  CHECK_FALSE(is_cacheable_response(RequestKind::tag_list, 200, ""));
  CHECK_FALSE(is_cacheable_response(RequestKind::other, 200, ""));
}

TEST_CASE("is_replayed_header") {
  CHECK(is_replayed_header("content-type"));
  CHECK(is_replayed_header("Docker-Content-Digest"));
  CHECK(is_replayed_header("ETag"));
  CHECK_FALSE(is_replayed_header("Content-Length"));
  CHECK_FALSE(is_replayed_header("Set-Cookie"));
  CHECK_FALSE(is_replayed_header("Www-Authenticate"));
  CHECK_FALSE(is_replayed_header("Transfer-Encoding"));
}
