#pragma once
// The XML bodies S3 answers with, read into plain structs. The body is the server's: these never
// throw on it, they return the value or why there is none (ParseResult). Text is entity-decoded
// (keys and tokens may hold '&'); numbers and dates are checked.
#include "common/parse_result.hpp"
#include "s3/amz_time.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pt::s3 {

// <Error><Code>NoSuchKey</Code><Message>...</Message>...</Error>. Message may be empty: Ceph RGW 16
// sends <Message></Message>, so report the code, and the message only when there is one.
struct S3Error {
  std::string code;  // never empty
  std::string message;
  std::string resource;
  std::string request_id;

  std::string describe() const;  // "NoSuchBucket: The specified bucket does not exist"; "NoSuchBucket"
};
ParseResult<S3Error> parse_error(std::string_view body);

// CreateMultipartUpload's answer: the upload ID every later part, complete and abort names.
ParseResult<std::string> parse_initiate_multipart_upload(std::string_view body);

// CompleteMultipartUpload's answer, which may be an <Error> under a 200 status: the server sends
// the status before it has assembled the parts.
struct CompletedUpload {
  std::string location;
  std::string bucket;
  std::string key;
  // The object's ETag, quotes included. EMPTY on Ceph RGW 16, which sends <ETag></ETag>: a caller
  // that needs it takes it from a HEAD of the object.
  std::string etag;
};
ParseResult<std::variant<CompletedUpload, S3Error>> parse_complete_multipart_upload(std::string_view body);

// ListObjectsV2: <ListBucketResult> with <Contents> entries.
struct ObjectEntry {
  std::string key;  // full key, with the store's prefix (Endpoint::relative_key)
  std::uint64_t size = 0;
  TimePoint last_modified;
  std::string etag;  // quotes included, as sent
};
struct ObjectListing {
  std::vector<ObjectEntry> objects;
  bool is_truncated = false;
  std::string next_continuation_token;  // set whenever is_truncated (else the listing is refused)
};
ParseResult<ObjectListing> parse_list_objects_v2(std::string_view body);

// ListMultipartUploads: <ListMultipartUploadsResult> with <Upload> entries.
struct UploadEntry {
  std::string key;
  std::string upload_id;
  TimePoint initiated;
};
struct UploadListing {
  std::vector<UploadEntry> uploads;
  bool is_truncated = false;
  std::string next_key_marker;        // the next page's key-marker
  std::string next_upload_id_marker;  // the next page's upload-id-marker
};
ParseResult<UploadListing> parse_list_multipart_uploads(std::string_view body);

}  // namespace pt::s3
