#include "s3/store_location.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using pt::s3::bucket_name_problem;
using pt::s3::parse_store_location;
using pt::s3::StoreSettings;

namespace {

// The message of the std::invalid_argument that parsing `s` throws ("" when it does not throw).
std::string error_of(const StoreSettings& s) {
  try {
    parse_store_location(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("BLOB_STORE alone is AWS, virtual-host style, us-east-1", "[s3][location]") {
  const auto e = parse_store_location({.blob_store = "s3://pullthrough-cache"});
  CHECK(e.scheme == "https");
  CHECK(e.host == "s3.us-east-1.amazonaws.com");
  CHECK(e.port == 443);
  CHECK_FALSE(e.path_style);
  CHECK(e.region == "us-east-1");
  CHECK(e.bucket == "pullthrough-cache");
  CHECK(e.prefix.empty());
  CHECK(e.host_header() == "pullthrough-cache.s3.us-east-1.amazonaws.com");
  CHECK(e.object_path("blobs/sha256/ab/abcdef") == "/blobs/sha256/ab/abcdef");
  CHECK(e.bucket_path() == "/");
  CHECK(e.describe() == "https://s3.us-east-1.amazonaws.com bucket pullthrough-cache (virtual-host style)");
}

TEST_CASE("S3_REGION picks the AWS endpoint", "[s3][location]") {
  const auto e = parse_store_location({.blob_store = "s3://bucket/cache/v1", .region = "eu-west-3"});
  CHECK(e.host == "s3.eu-west-3.amazonaws.com");
  CHECK(e.prefix == "cache/v1");
  CHECK(e.host_header() == "bucket.s3.eu-west-3.amazonaws.com");
  CHECK(e.object_path("tags/x") == "/cache/v1/tags/x");
  CHECK(e.full_key("tags/x") == "cache/v1/tags/x");
}

TEST_CASE("S3_ENDPOINT means path style unless told otherwise", "[s3][location]") {
  const auto rgw = parse_store_location({.blob_store = "s3://registry/pt/", .endpoint = "http://RGW.local:7480/"});
  CHECK(rgw.scheme == "http");
  CHECK(rgw.host == "rgw.local");
  CHECK(rgw.port == 7480);
  CHECK(rgw.path_style);
  CHECK(rgw.prefix == "pt");  // a trailing '/' is dropped
  CHECK(rgw.host_header() == "rgw.local:7480");
  CHECK(rgw.object_path("blobs/sha256/ab/ab12") == "/registry/pt/blobs/sha256/ab/ab12");
  CHECK(rgw.bucket_path() == "/registry");
  CHECK(rgw.describe() == "http://rgw.local:7480 bucket registry prefix pt (path style)");

  const auto minio = parse_store_location({.blob_store = "s3://b1b", .endpoint = "https://minio.example:443", .path_style = "off"});
  CHECK_FALSE(minio.path_style);
  CHECK(minio.host_header() == "b1b.minio.example");  // the default port is not written

  const auto v6 = parse_store_location({.blob_store = "s3://bkt", .endpoint = "http://[::1]:9000"});
  CHECK(v6.host == "::1");
  CHECK(v6.host_header() == "[::1]:9000");
  CHECK(parse_store_location({.blob_store = "s3://bkt", .endpoint = "http://10.0.0.1"}).host_header() == "10.0.0.1");
}

TEST_CASE("a bucket with dots on AWS is addressed path style", "[s3][location]") {
  // "*.s3.amazonaws.com" would not cover "my.bucket.s3.amazonaws.com".
  CHECK(parse_store_location({.blob_store = "s3://my.bucket"}).path_style);
  CHECK_FALSE(parse_store_location({.blob_store = "s3://my.bucket", .path_style = "false"}).path_style);
}

TEST_CASE("object keys are encoded per segment and checked", "[s3][location]") {
  const auto e = parse_store_location({.blob_store = "s3://bucket", .endpoint = "http://h:1"});
  CHECK(e.object_path("tags/docker.io/library/ubuntu:22.04") == "/bucket/tags/docker.io/library/ubuntu%3A22.04");
  CHECK(e.object_path("a+b=c") == "/bucket/a%2Bb%3Dc");
  for (const auto* bad : {"", "/abs", "a//b", "a/", "./a", "a/../b", "sp ace", "tab\t", "\x80"}) {
    CHECK_THROWS_AS(e.object_path(bad), std::invalid_argument);
  }
  CHECK_THROWS_AS(e.object_path(std::string(1025, 'k')), std::invalid_argument);
  CHECK_NOTHROW(e.object_path(std::string(1024, 'k')));
}

TEST_CASE("relative keys undo the prefix", "[s3][location]") {
  const auto e = parse_store_location({.blob_store = "s3://bucket/pre"});
  CHECK(e.relative_key("pre/blobs/x") == "blobs/x");
  CHECK_FALSE(e.relative_key("prefix/blobs/x"));
  CHECK_FALSE(e.relative_key("pre/"));
  CHECK_FALSE(e.relative_key("other"));
  CHECK(parse_store_location({.blob_store = "s3://bucket"}).relative_key("any/key") == "any/key");
}

TEST_CASE("bucket names follow S3's rules", "[s3][location]") {
  for (const auto* good : {"abc", "my-bucket", "my.bucket.1", "123"}) {
    CHECK(bucket_name_problem(good).empty());
  }
  CHECK(bucket_name_problem(std::string(63, 'a')).empty());
  for (const auto* bad : {"ab", "Bucket", "my_bucket", "-abc", "abc-", "a..b", "192.168.1.1", "b!b"}) {
    CHECK_FALSE(bucket_name_problem(bad).empty());
  }
  CHECK_FALSE(bucket_name_problem(std::string(64, 'a')).empty());
}

TEST_CASE("errors name the setting", "[s3][location]") {
  CHECK(error_of({.blob_store = ""}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "/var/cache"}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "s3://Bad_Bucket"}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "s3://bucket//x"}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "s3://bucket/a b"}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "s3://bucket/../x"}).starts_with("BLOB_STORE:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "rgw:7480"}).starts_with("S3_ENDPOINT:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "ftp://rgw"}).starts_with("S3_ENDPOINT:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "http://rgw/path"}).starts_with("S3_ENDPOINT:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "http://user@rgw"}).starts_with("S3_ENDPOINT:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "http://rgw:0"}).starts_with("S3_ENDPOINT:"));
  CHECK(error_of({.blob_store = "s3://bucket", .region = "eu/west"}).starts_with("S3_REGION:"));
  CHECK(error_of({.blob_store = "s3://bucket", .path_style = "maybe"}).starts_with("S3_PATH_STYLE:"));
  CHECK(error_of({.blob_store = "s3://bucket", .endpoint = "http://10.0.0.1", .path_style = "false"})
            .starts_with("S3_PATH_STYLE:"));
  CHECK(error_of({.blob_store = "s3://bucket"}).empty());
}
