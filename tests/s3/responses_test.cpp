#include "s3/responses.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace pt::s3;
using namespace std::chrono;

TEST_CASE("S3 errors, with RGW's empty message", "[s3][responses]") {
  // AWS's shape (S3 API Reference, "Error responses").
  const auto aws = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n"
      "  <Message>The resource you requested does not exist</Message>\n  <Resource>/mybucket/myfoto.jpg</Resource>\n"
      "  <RequestId>4442587FB7D0A2F9</RequestId>\n</Error>");
  REQUIRE(aws);
  CHECK(aws->code == "NoSuchKey");
  CHECK(aws->message == "The resource you requested does not exist");
  CHECK(aws->resource == "/mybucket/myfoto.jpg");
  CHECK(aws->request_id == "4442587FB7D0A2F9");
  CHECK(aws->describe() == "NoSuchKey: The resource you requested does not exist");
  // Ceph RGW 16: an empty <Message>.
  const auto rgw = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code><Message></Message>"
      "<BucketName>registry</BucketName><RequestId>tx000001</RequestId><HostId>1-default</HostId></Error>");
  REQUIRE(rgw);
  CHECK(rgw->code == "SignatureDoesNotMatch");
  CHECK(rgw->message.empty());
  CHECK(rgw->describe() == "SignatureDoesNotMatch");
  CHECK_FALSE(parse_error("<Error><Message>no code</Message></Error>"));
  CHECK_FALSE(parse_error("<ListBucketResult/>"));
  CHECK_FALSE(parse_error("<html>502 Bad Gateway</html>"));
  CHECK_FALSE(parse_error(""));
}

TEST_CASE("InitiateMultipartUploadResult gives the upload ID", "[s3][responses]") {
  const auto id = parse_initiate_multipart_upload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
      "  <Bucket>example-bucket</Bucket>\n  <Key>example-object</Key>\n"
      "  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&amp;x</UploadId>\n"
      "</InitiateMultipartUploadResult>");
  REQUIRE(id);
  CHECK(*id == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&x");
  CHECK_FALSE(parse_initiate_multipart_upload("<InitiateMultipartUploadResult><UploadId></UploadId>"
                                              "</InitiateMultipartUploadResult>"));
  CHECK_FALSE(parse_initiate_multipart_upload("<Error><Code>AccessDenied</Code></Error>"));
}

TEST_CASE("CompleteMultipartUpload: a result, an empty RGW ETag, or an error under 200", "[s3][responses]") {
  const auto aws = parse_complete_multipart_upload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://Example-Bucket.s3.amazonaws.com/Example-Object"
      "</Location><Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>"
      "<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>");
  REQUIRE(aws);
  REQUIRE(std::holds_alternative<CompletedUpload>(*aws.value));
  CHECK(std::get<CompletedUpload>(*aws.value).etag == "\"3858f62230ac3c915f300c664312c11f-9\"");
  CHECK(std::get<CompletedUpload>(*aws.value).key == "Example-Object");

  const auto rgw = parse_complete_multipart_upload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>rgw:7480/registry/k</Location>"
      "<Bucket>registry</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>");
  REQUIRE(rgw);
  CHECK(std::get<CompletedUpload>(*rgw.value).etag.empty());

  const auto failed = parse_complete_multipart_upload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message></Error>");
  REQUIRE(failed);
  REQUIRE(std::holds_alternative<S3Error>(*failed.value));
  CHECK(std::get<S3Error>(*failed.value).code == "InternalError");

  CHECK_FALSE(parse_complete_multipart_upload(""));
  CHECK_FALSE(parse_complete_multipart_upload("<Error><Code></Code></Error>"));
  CHECK_FALSE(parse_complete_multipart_upload("<Other/>"));
}

TEST_CASE("ListObjectsV2 pages", "[s3][responses]") {
  // The S3 API Reference's ListObjectsV2 example, with a second entry and a continuation token.
  const auto page = parse_list_objects_v2(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
      "  <Name>bucket</Name>\n  <Prefix/>\n  <KeyCount>2</KeyCount>\n  <MaxKeys>2</MaxKeys>\n"
      "  <IsTruncated>true</IsTruncated>\n"
      "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;</NextContinuationToken>\n"
      "  <Contents>\n    <Key>my-image.jpg</Key>\n    <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
      "    <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n    <Size>434234</Size>\n"
      "    <StorageClass>STANDARD</StorageClass>\n  </Contents>\n"
      "  <Contents><Key>pt/blobs/sha256/ab/ab&amp;</Key><LastModified>2024-02-29T23:59:59.5Z</LastModified>"
      "<ETag>&quot;x&quot;</ETag><Size>18446744073709551615</Size></Contents>\n"
      "</ListBucketResult>");
  REQUIRE(page);
  CHECK(page->is_truncated);
  CHECK(page->next_continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&");
  REQUIRE(page->objects.size() == 2);
  CHECK(page->objects[0].key == "my-image.jpg");
  CHECK(page->objects[0].size == 434234);
  CHECK(page->objects[0].last_modified == sys_days{2009y / October / 12} + 17h + 50min + 30s);
  CHECK(page->objects[0].etag == "\"fba9dede5f27731c9771645a39863328\"");
  CHECK(page->objects[1].key == "pt/blobs/sha256/ab/ab&");
  CHECK(page->objects[1].size == 18446744073709551615ull);
  CHECK(page->objects[1].last_modified == sys_days{2024y / February / 29} + 23h + 59min + 59s + 500ms);
  CHECK(page->objects[1].etag == "\"x\"");

  const auto last = parse_list_objects_v2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  REQUIRE(last);
  CHECK_FALSE(last->is_truncated);
  CHECK(last->objects.empty());
}

TEST_CASE("ListObjectsV2 refuses listings it cannot trust", "[s3][responses]") {
  const auto entry = [](std::string_view inner) {
    return "<ListBucketResult><IsTruncated>false</IsTruncated><Contents>" + std::string(inner) +
           "</Contents></ListBucketResult>";
  };
  CHECK(parse_list_objects_v2(entry("<Key>k</Key><Size>1</Size><LastModified>2020-01-01T00:00:00Z</LastModified>")));
  CHECK_FALSE(parse_list_objects_v2(entry("<Size>1</Size><LastModified>2020-01-01T00:00:00Z</LastModified>")));
  CHECK_FALSE(parse_list_objects_v2(entry("<Key>k</Key><Size>-1</Size><LastModified>2020-01-01T00:00:00Z</LastModified>")));
  CHECK_FALSE(parse_list_objects_v2(entry("<Key>k</Key><Size>99999999999999999999</Size>"
                                          "<LastModified>2020-01-01T00:00:00Z</LastModified>")));
  CHECK_FALSE(parse_list_objects_v2(entry("<Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified>")));
  CHECK_FALSE(parse_list_objects_v2(entry("<Key>k</Key><Size>1</Size>")));
  CHECK_FALSE(parse_list_objects_v2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"));
  CHECK_FALSE(parse_list_objects_v2("<ListBucketResult><IsTruncated>perhaps</IsTruncated></ListBucketResult>"));
  CHECK_FALSE(parse_list_objects_v2("<Error><Code>NoSuchBucket</Code></Error>"));
}

TEST_CASE("ListMultipartUploads pages", "[s3][responses]") {
  const auto page = parse_list_multipart_uploads(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
      "  <Bucket>bucket</Bucket>\n  <KeyMarker></KeyMarker>\n  <UploadIdMarker></UploadIdMarker>\n"
      "  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>\n"
      "  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>\n"
      "  <MaxUploads>3</MaxUploads>\n  <IsTruncated>true</IsTruncated>\n"
      "  <Upload>\n    <Key>my-divisor</Key>\n"
      "    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>\n"
      "    <Initiator><ID>arn:aws:iam::111122223333:user/user1</ID><DisplayName>user1</DisplayName></Initiator>\n"
      "    <StorageClass>REDUCED_REDUNDANCY</StorageClass>\n    <Initiated>2010-11-10T20:48:33.000Z</Initiated>\n"
      "  </Upload>\n"
      "</ListMultipartUploadsResult>");
  REQUIRE(page);
  CHECK(page->is_truncated);
  CHECK(page->next_key_marker == "my-movie.m2ts");
  CHECK(page->next_upload_id_marker == "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
  REQUIRE(page->uploads.size() == 1);
  CHECK(page->uploads[0].key == "my-divisor");
  CHECK(page->uploads[0].upload_id == "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
  CHECK(page->uploads[0].initiated == sys_days{2010y / November / 10} + 20h + 48min + 33s);

  CHECK_FALSE(parse_list_multipart_uploads("<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
                                           "</ListMultipartUploadsResult>"));
  CHECK_FALSE(parse_list_multipart_uploads("<ListMultipartUploadsResult><Upload><Key>k</Key>"
                                           "<Initiated>2010-11-10T20:48:33Z</Initiated></Upload>"
                                           "</ListMultipartUploadsResult>"));
  const auto none = parse_list_multipart_uploads("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                                                 "</ListMultipartUploadsResult>");
  REQUIRE(none);
  CHECK(none->uploads.empty());
}

TEST_CASE("ISO 8601 times from the listings", "[s3][responses]") {
  CHECK(*parse_iso8601("1970-01-01T00:00:00Z") == system_clock::time_point{});
  CHECK(*parse_iso8601("2009-10-12T17:50:30+02:00") == sys_days{2009y / October / 12} + 15h + 50min + 30s);
  CHECK(*parse_iso8601("2009-10-12T17:50:30.123456Z") == sys_days{2009y / October / 12} + 17h + 50min + 30s + 123ms);
  for (const auto* bad : {"", "2009-10-12", "2009-10-12T17:50:30", "2009-13-01T00:00:00Z", "2009-02-29T00:00:00Z",
                          "2009-10-12T24:00:00Z", "2009-10-12T17:50:30.Z", "2009-10-12 17:50:30Z",
                          "2009-10-12T17:50:30Zjunk", "2009-10-12T17:50:30+2:00",
                          "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_iso8601(bad));
  }
}
