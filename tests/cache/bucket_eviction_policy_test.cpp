#include "cache/bucket_eviction_policy.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

std::vector<std::string> keys(const std::vector<BucketObject>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) out.push_back(object.key);
  return out;
}

}  // namespace

TEST_CASE("bucket_victims: least recently used first, a use counting like an upload") {
  // Uploaded a, b, c in that order; a was used after c's upload.
  const std::vector<BucketObject> objects{
      {.key = "blobs/sha256/a", .size = 100, .uploaded = kT0, .last_used = kT0 + 30s},
      {.key = "blobs/sha256/b", .size = 100, .uploaded = kT0 + 10s},
      {.key = "blobs/sha256/c", .size = 100, .uploaded = kT0 + 20s, .last_used = kT0 + 20s},
  };
  const auto now = kT0 + 40s;
  CHECK(keys(bucket_victims(objects, {.max_bytes = 200}, now)) == std::vector<std::string>{"blobs/sha256/b"});
  CHECK(keys(bucket_victims(objects, {.max_bytes = 100}, now)) ==
        std::vector<std::string>{"blobs/sha256/b", "blobs/sha256/c"});
  CHECK(bucket_victims(objects, {.max_bytes = 300}, now).empty());
  CHECK(bucket_victims(objects, {}, now).empty());  // both off
  // A use older than the upload (recorded before a re-upload) changes nothing.
  auto reuploaded = objects;
  reuploaded[0].last_used = kT0 - 1h;
  CHECK(keys(bucket_victims(reuploaded, {.max_bytes = 200}, now)) == std::vector<std::string>{"blobs/sha256/a"});
}

TEST_CASE("bucket_victims: S3_INACTIVE deletes what nobody used within the window") {
  const std::vector<BucketObject> objects{
      {.key = "blobs/sha256/a", .size = 100, .uploaded = kT0, .last_used = kT0 + 50s},
      {.key = "blobs/sha256/b", .size = 100, .uploaded = kT0 + 10s},
      {.key = "tags/t", .size = 1, .uploaded = kT0 + 5s},
      {.key = "blobs/sha256/c", .size = 100, .uploaded = kT0 + 45s},
  };
  const auto now = kT0 + 60s;
  CHECK(keys(bucket_victims(objects, {.inactive = 20s}, now)) == std::vector<std::string>{"tags/t", "blobs/sha256/b"});
  CHECK(bucket_victims(objects, {.inactive = 55s}, now).empty());  // exactly the window: kept
  // Both: the inactive ones go, then the size decides among the rest.
  CHECK(keys(bucket_victims(objects, {.max_bytes = 100, .inactive = 20s}, now)) ==
        std::vector<std::string>{"tags/t", "blobs/sha256/b", "blobs/sha256/c"});
}

TEST_CASE("bucket_victims: another replica's objects count as deleted by their owner, not returned") {
  const std::vector<BucketObject> objects{
      {.key = "blobs/sha256/a", .size = 100, .uploaded = kT0, .owned = false},
      {.key = "blobs/sha256/b", .size = 100, .uploaded = kT0 + 10s},
      {.key = "blobs/sha256/c", .size = 100, .uploaded = kT0 + 20s},
  };
  // The owner of a deletes it: this replica deletes b alone to reach 100 bytes.
  CHECK(keys(bucket_victims(objects, {.max_bytes = 100}, kT0 + 30s)) == std::vector<std::string>{"blobs/sha256/b"});
  // Ties (same time) go by key, the same on every replica.
  const std::vector<BucketObject> tied{
      {.key = "blobs/sha256/z", .size = 100, .uploaded = kT0},
      {.key = "blobs/sha256/y", .size = 100, .uploaded = kT0},
  };
  CHECK(keys(bucket_victims(tied, {.max_bytes = 100}, kT0)) == std::vector<std::string>{"blobs/sha256/y"});
}
