#include "s3/requests.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

using namespace pt::s3;
using namespace std::chrono;

namespace {

Endpoint rgw() { return parse_store_location({.blob_store = "s3://registry/pt", .endpoint = "http://rgw:7480"}); }

std::string header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "<none>";
}

}  // namespace

TEST_CASE("a GetObject request signs as AWS's own example", "[s3][requests]") {
  // The "GET Object" example of the S3 signing guide (see sigv4_test.cpp), built by the builders.
  const Endpoint aws{.scheme = "https", .host = "s3.amazonaws.com", .port = 443, .path_style = false,
                     .region = "us-east-1", .bucket = "examplebucket", .prefix = ""};
  auto spec = get_object(aws, "test.txt", "bytes=0-9");
  CHECK(spec.method == "GET");
  CHECK(spec.target() == "/test.txt");
  CHECK(spec.headers == Headers{{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}});
  CHECK(spec.success == std::vector<int>{200, 206});
  const AccessKey key{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", std::nullopt};
  const auto added = authorize(spec, aws, key, sys_days{2013y / May / 24});
  CHECK(added == Headers{{"Authorization",
                          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
                         {"x-amz-date", "20130524T000000Z"},
                         {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)}});
}

TEST_CASE("object requests", "[s3][requests]") {
  const auto e = rgw();
  const auto put = put_object(e, "blobs/sha256/ab/ab12", 1234, "ab12");
  CHECK(put.method == "PUT");
  CHECK(put.target() == "/registry/pt/blobs/sha256/ab/ab12");
  CHECK(header(put.headers, "Host") == "rgw:7480");
  CHECK(header(put.headers, "Content-Length") == "1234");
  CHECK(put.payload_hash == "ab12");
  CHECK(put_object(e, "k", 1).payload_hash == kUnsignedPayload);
  CHECK(put.succeeded(200));
  CHECK_FALSE(put.succeeded(204));

  const auto get = get_object(e, "k");
  CHECK(get.success == std::vector<int>{200});
  CHECK(header(get.headers, "Range") == "<none>");
  CHECK(head_object(e, "k").method == "HEAD");
  const auto del = delete_object(e, "k");
  CHECK(del.method == "DELETE");
  CHECK(del.succeeded(204));
  CHECK(del.payload_hash == kEmptyPayloadSha256);
}

TEST_CASE("multipart requests", "[s3][requests]") {
  const auto e = rgw();
  const auto create = create_multipart_upload(e, "blobs/x");
  CHECK(create.method == "POST");
  CHECK(create.target() == "/registry/pt/blobs/x?uploads");
  CHECK(create.query == QueryParams{{"uploads", ""}});  // signed as "uploads="

  const auto part = upload_part(e, "blobs/x", "2~abc/+=", 7, 8 * 1024 * 1024);
  CHECK(part.method == "PUT");
  CHECK(part.target() == "/registry/pt/blobs/x?partNumber=7&uploadId=2~abc%2F%2B%3D");
  CHECK(header(part.headers, "Content-Length") == "8388608");
  CHECK(part.payload_hash == kUnsignedPayload);
  CHECK_THROWS_AS(upload_part(e, "k", "id", 0, 1), std::invalid_argument);
  CHECK_THROWS_AS(upload_part(e, "k", "id", 10001, 1), std::invalid_argument);
  CHECK_THROWS_AS(upload_part(e, "k", "", 1, 1), std::invalid_argument);

  const std::vector<CompletedPart> parts{{1, "\"a54357aff0632cce46d942af68356b38\""}, {2, "\"0c78aef8&\""}};
  const auto complete = complete_multipart_upload(e, "blobs/x", "id1", parts);
  CHECK(complete.method == "POST");
  CHECK(complete.target() == "/registry/pt/blobs/x?uploadId=id1");
  CHECK(complete.body ==
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"0c78aef8&amp;\"</ETag></Part>"
        "</CompleteMultipartUpload>");
  CHECK(header(complete.headers, "Content-Length") == std::to_string(complete.body.size()));
  CHECK(complete.payload_hash == sha256_hex(complete.body));
  CHECK_THROWS_AS(complete_multipart_upload(e, "k", "id", {}), std::invalid_argument);
  CHECK_THROWS_AS(complete_multipart_upload(e, "k", "id", {{2, "a"}, {1, "b"}}), std::invalid_argument);

  const auto abort = abort_multipart_upload(e, "blobs/x", "id1");
  CHECK(abort.method == "DELETE");
  CHECK(abort.target() == "/registry/pt/blobs/x?uploadId=id1");
  CHECK(abort.succeeded(204));
}

TEST_CASE("bucket requests", "[s3][requests]") {
  const auto e = rgw();
  const auto list = list_objects_v2(e, {.prefix = "blobs/", .continuation_token = "1/abc=", .max_keys = 5000});
  CHECK(list.method == "GET");
  CHECK(list.target() == "/registry?continuation-token=1%2Fabc%3D&list-type=2&max-keys=1000&prefix=pt%2Fblobs%2F");
  const auto first = list_objects_v2(e, {});
  CHECK(first.target() == "/registry?list-type=2&max-keys=1000&prefix=pt%2F");

  const auto aws = parse_store_location({.blob_store = "s3://bucket"});
  CHECK(list_objects_v2(aws, {.max_keys = 2}).target() == "/?list-type=2&max-keys=2");

  const auto uploads = list_multipart_uploads(e, {.prefix = "blobs/", .key_marker = "pt/blobs/a", .upload_id_marker = "u"});
  CHECK(uploads.target() ==
        "/registry?key-marker=pt%2Fblobs%2Fa&max-uploads=1000&prefix=pt%2Fblobs%2F&upload-id-marker=u&uploads");

  const auto head = head_bucket(e);
  CHECK(head.method == "HEAD");
  CHECK(head.target() == "/registry");
  CHECK(head_bucket(aws).target() == "/");
  CHECK(header(head_bucket(aws).headers, "Host") == "bucket.s3.us-east-1.amazonaws.com");
}

TEST_CASE("authorize adds the session token and signs the body's hash", "[s3][requests]") {
  const auto e = rgw();
  const AccessKey key{"AKID", "secret", "token"};
  const auto spec = complete_multipart_upload(e, "k", "id", {{1, "\"e\""}});
  const auto added = authorize(spec, e, key, sys_days{2024y / January / 2} + 3h);
  REQUIRE(added.size() == 4);
  CHECK(added[0].name == "Authorization");
  CHECK(added[0].value.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/s3/aws4_request, "
                                   "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
                                   "Signature="));
  CHECK(added[1] == Header{"x-amz-date", "20240102T030000Z"});
  CHECK(added[2] == Header{"x-amz-content-sha256", sha256_hex(spec.body)});
  CHECK(added[3] == Header{"x-amz-security-token", "token"});
}
