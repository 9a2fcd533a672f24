#pragma once
// AWS Signature Version 4, header form ("Authorization: AWS4-HMAC-SHA256 ..."), as S3 and every
// S3-compatible server (Ceph RGW, MinIO, GCS's XML API) check it. Debian packages no C++ S3
// client, so this is the whole of it, written to the published algorithm and tested against AWS's
// own vectors (tests/s3/sigv4_test.cpp).
//
// The steps are exposed one by one because a server answers every mistake with the same
// SignatureDoesNotMatch: a test that compares each intermediate text finds which step is wrong.
//
//   canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
//   string to sign    = AWS4-HMAC-SHA256 \n x-amz-date \n SCOPE \n hex(SHA-256(canonical request))
//   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, YYYYMMDD), region), service), "aws4_request")
//   signature         = hex(HMAC(signing key, string to sign))
#include "s3/amz_time.hpp"
#include "s3/credentials.hpp"
#include "s3/hashing.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pt::s3 {

struct Header {
  std::string name;  // as sent; the signer lower-cases its own copy
  std::string value;
  bool operator==(const Header&) const = default;
};
using Headers = std::vector<Header>;

// One query parameter, NOT encoded: the signer and RequestSpec::target() encode it the same way.
// An empty value is a bare name on the wire ("?uploads") and "uploads=" in the canonical request.
struct QueryParam {
  std::string name;
  std::string value;
  bool operator==(const QueryParam&) const = default;
};
using QueryParams = std::vector<QueryParam>;

// x-amz-content-sha256 of a body we do not hash before sending (a streamed PUT or part): S3 then
// checks only the head. Our choice for streamed uploads over TLS; acceptable over plain http to a
// local RGW. Passing the body's real SHA-256 instead makes the server verify it.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string: the payload hash of GET, HEAD, DELETE and bodiless POSTs.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Which of the request's headers are signed. A signed header must reach the server unchanged, so
// S3 requests sign only those no HTTP client or proxy rewrites: host, content-type, content-md5,
// range and every x-amz-* (x-amz-date, x-amz-content-sha256, x-amz-security-token among them).
// Content-Length, Connection, Expect, User-Agent stay unsigned. `all` signs every header given, as
// AWS's generic test suite does.
enum class HeaderSelection { s3, all };

struct SigningRequest {
  std::string_view method;         // "GET", upper-case
  std::string_view canonical_uri;  // the path as sent, already URI-encoded ("/bucket/blobs/sha256/ab/ab...")
  std::span<const QueryParam> query;
  std::span<const Header> headers;  // must hold Host; must not hold the headers sign() adds
  std::string_view payload_hash;    // lower-case hex SHA-256 of the body, or kUnsignedPayload
  TimePoint time;
  std::string_view region;           // "us-east-1"; RGW: its zonegroup name (any, when it does not check)
  std::string_view service = "s3";
  HeaderSelection selection = HeaderSelection::s3;
  // S3 wants the payload hash in x-amz-content-sha256 too (and refuses a request without it);
  // AWS's generic test suite (service "service") does not send it.
  bool add_content_sha256 = true;
};

struct Signature {
  std::string authorization;  // the Authorization header's value
  Headers added;              // x-amz-date, [x-amz-content-sha256], [x-amz-security-token]: send them too
  // The intermediate texts, for tests and for a debug log on SignatureDoesNotMatch (none of them
  // holds the secret; the canonical request holds the session token when there is one).
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;  // hex
};

// Signs. Throws std::invalid_argument for a request that cannot be signed as given (no Host, a
// header sign() adds already present, a header name that is not a token, a value holding CR, LF or
// NUL): these are the caller's bugs, never the server's input.
Signature sign(const SigningRequest& request, const AccessKey& key);

// ---------------------------------------------------------------- the steps

// "Param1=value1&Param2=value2": each name and value URI-encoded, sorted by name then value.
std::string canonical_query(std::span<const QueryParam> query);

struct CanonicalHeaders {
  std::string text;            // "host:example.com\nx-amz-date:...\n" (each line ends in \n)
  std::string signed_headers;  // "host;x-amz-date"
};
// Names lower-cased and sorted; values trimmed, runs of blanks folded into one space, the values of
// a repeated header joined by ',' in the order given.
CanonicalHeaders canonical_headers(std::span<const Header> headers, HeaderSelection selection);

std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query, const CanonicalHeaders& headers,
                              std::string_view payload_hash);

// "20150830/us-east-1/service/aws4_request"
std::string credential_scope(TimePoint time, std::string_view region, std::string_view service);

std::string string_to_sign(TimePoint time, std::string_view scope, std::string_view canonical_request);

Sha256 signing_key(std::string_view secret_access_key, TimePoint time, std::string_view region,
                   std::string_view service);

std::string signature_hex(const Sha256& signing_key, std::string_view string_to_sign);

}  // namespace pt::s3
