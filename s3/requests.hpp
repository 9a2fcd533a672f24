#pragma once
// The S3 operations pullthrough needs, each as a plain request description: what to send, and
// which statuses mean success. No I/O: the HTTP client takes a RequestSpec, signs it with
// authorize(), writes the head, then streams the body (a PUT or a part) or sends `body` (the small
// XML of CompleteMultipartUpload).
//
//   RequestSpec spec = put_object(endpoint, key, length, digest_hex);
//   Headers head = spec.headers;                          // Host, Content-Length, ...
//   for (auto& h : authorize(spec, endpoint, access_key, now)) head.push_back(h);
//   send(spec.method, spec.target(), head); stream the body; spec.succeeded(status)?
#include "s3/credentials.hpp"
#include "s3/sigv4.hpp"
#include "s3/store_location.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::s3 {

struct RequestSpec {
  std::string method;
  std::string path;   // URI-encoded: the request target's path and the canonical URI
  QueryParams query;  // not encoded
  Headers headers;    // Host first, then the operation's; no x-amz-date or Authorization yet
  std::string body;   // only small bodies we build (CompleteMultipartUpload); streamed ones are the caller's
  // x-amz-content-sha256: SHA-256 hex of `body` for requests we build whole; for streamed bodies the
  // caller's choice (kUnsignedPayload, or the real hash for the server to verify).
  std::string payload_hash{kEmptyPayloadSha256};
  std::vector<int> success;  // statuses that mean it worked

  // "/bucket/key?partNumber=1&uploadId=..": the request line's target, query encoded exactly as
  // signed; an empty value is written as a bare name ("?uploads"), as AWS's SDKs do.
  std::string target() const;
  bool succeeded(int status) const;
};

// The headers to add to spec.headers: Authorization, x-amz-date, x-amz-content-sha256 and, with a
// session token, x-amz-security-token. S3 refuses a request whose x-amz-date is more than 15
// minutes from its clock (RequestTimeTooSkewed): sign just before sending, with the current time.
Headers authorize(const RequestSpec& spec, const Endpoint& endpoint, const AccessKey& key, TimePoint now);

// ---------------------------------------------------------------- objects

// PUT a whole object of `content_length` bytes in one request (S3 allows up to 5 GiB; there is no
// chunked upload without aws-chunked signing, so the length must be known). `payload_hash`: the
// body's SHA-256 hex when known before sending, as a content-addressed blob's is (its digest): the
// server then refuses a body that does not match (XAmzContentSHA256Mismatch; RGW has the same
// check, to be confirmed on Ceph 16 by the integration test), so a cut or corrupt upload never
// becomes readable under the digest's key. Otherwise kUnsignedPayload.
RequestSpec put_object(const Endpoint& endpoint, std::string_view key, std::uint64_t content_length,
                       std::string_view payload_hash = kUnsignedPayload,
                       std::string_view content_type = "application/octet-stream");

// GET, optionally one byte range passed through as the Range header's value ("bytes=0-99"): 200
// for the whole object, 206 for a range (the server may answer a Range with 200 and everything).
RequestSpec get_object(const Endpoint& endpoint, std::string_view key,
                       std::optional<std::string_view> range = std::nullopt);
RequestSpec head_object(const Endpoint& endpoint, std::string_view key);
// 204, also when the key did not exist (S3 does not tell).
RequestSpec delete_object(const Endpoint& endpoint, std::string_view key);

// ---------------------------------------------------------------- multipart uploads

// POST ?uploads: answers InitiateMultipartUploadResult (parse_initiate_multipart_upload).
RequestSpec create_multipart_upload(const Endpoint& endpoint, std::string_view key,
                                    std::string_view content_type = "application/octet-stream");
// PUT ?partNumber=N&uploadId=X, N in 1..10000: answers the part's ETag in a header, which
// CompleteMultipartUpload needs back.
RequestSpec upload_part(const Endpoint& endpoint, std::string_view key, std::string_view upload_id,
                        std::uint32_t part_number, std::uint64_t content_length,
                        std::string_view payload_hash = kUnsignedPayload);

struct CompletedPart {
  std::uint32_t part_number = 0;
  std::string etag;  // as the UploadPart response's ETag header gave it, quotes included
};
// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"..."</ETag></Part>...; parts must
// be in ascending order (S3 refuses others with InvalidPartOrder).
std::string complete_multipart_upload_body(const std::vector<CompletedPart>& parts);
// POST ?uploadId=X with that body. Beware: S3 may answer 200 and still have failed, with an <Error>
// body (the status is sent before the parts are assembled): parse_complete_multipart_upload tells.
RequestSpec complete_multipart_upload(const Endpoint& endpoint, std::string_view key, std::string_view upload_id,
                                      const std::vector<CompletedPart>& parts);
// DELETE ?uploadId=X: 204. A 404 (NoSuchUpload) means it is gone already, which the caller may
// take as success too.
RequestSpec abort_multipart_upload(const Endpoint& endpoint, std::string_view key, std::string_view upload_id);

// ---------------------------------------------------------------- bucket

struct ListObjectsOptions {
  std::string prefix;  // our key prefix ("blobs/"); the store's prefix is added
  std::string continuation_token;
  std::uint32_t max_keys = 1000;  // S3 returns at most 1000 whatever is asked
};
// GET ?list-type=2: answers ListBucketResult (parse_list_objects_v2). Keys come back full (with the
// store's prefix): Endpoint::relative_key turns them back into ours.
RequestSpec list_objects_v2(const Endpoint& endpoint, const ListObjectsOptions& options);

struct ListUploadsOptions {
  std::string prefix;  // our key prefix; the store's prefix is added
  std::string key_marker;        // from NextKeyMarker, to page
  std::string upload_id_marker;  // from NextUploadIdMarker
  std::uint32_t max_uploads = 1000;
};
// GET ?uploads: answers ListMultipartUploadsResult (parse_list_multipart_uploads), the uploads a
// crash left behind, for aborting at start-up.
RequestSpec list_multipart_uploads(const Endpoint& endpoint, const ListUploadsOptions& options);

// HEAD the bucket: 200 when it exists and the key may use it; 403 (wrong credentials or no access)
// and 404 (no such bucket) come without a body, so the status is all there is to report.
RequestSpec head_bucket(const Endpoint& endpoint);

}  // namespace pt::s3
