// SigV4 against AWS's published vectors.
//
// 1. The aws-sig-v4-test-suite (AWS General Reference, "Signature Version 4 test suite", 2015
//    edition: credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1,
//    service "service", 20150830T123600Z). The expected Authorization values are those of the
//    suite's .authz files, as kept by AWS in awslabs/aws-c-auth
//    (tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt) and in aws-sdk-js-v3
//    (packages/signature-v4/src/suite.fixture.ts). The suite is not S3: it signs every header and
//    sends no x-amz-content-sha256, hence HeaderSelection::all and add_content_sha256 = false.
// 2. The S3 examples of "Signature Calculations for the Authorization Header: Transferring Payload
//    in a Single Chunk" (Amazon S3 API Reference; AKIAIOSFODNN7EXAMPLE /
//    wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, 20130524T000000Z): GET Object with a
//    Range, PUT Object, GET Bucket Lifecycle, GET Bucket (List Objects).
#include "s3/sigv4.hpp"
#include "s3/uri_encode.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace pt::s3;
using namespace std::chrono;

namespace {

const TimePoint kSuiteTime = sys_days{2015y / August / 30} + 12h + 36min;
const AccessKey kSuiteKey{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::nullopt};
const std::string kSuiteCredential = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

const TimePoint kS3Time = sys_days{2013y / May / 24};
const AccessKey kS3Key{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", std::nullopt};

struct SuiteCase {
  std::string method = "GET";
  std::string uri = "/";
  QueryParams query;
  Headers headers;  // Host added by suite_sign
  std::string body;
};

Signature suite_sign(const SuiteCase& c, const AccessKey& key = kSuiteKey) {
  Headers headers{{"Host", "example.amazonaws.com"}};
  headers.insert(headers.end(), c.headers.begin(), c.headers.end());
  const auto payload = sha256_hex(c.body);
  return sign({.method = c.method,
               .canonical_uri = c.uri,
               .query = c.query,
               .headers = headers,
               .payload_hash = payload,
               .time = kSuiteTime,
               .region = "us-east-1",
               .service = "service",
               .selection = HeaderSelection::all,
               .add_content_sha256 = false},
              key);
}

std::string lines(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) {
    if (!out.empty()) out.push_back('\n');
    out.append(p);
  }
  return out;
}

}  // namespace

TEST_CASE("the empty payload hash is SHA-256 of nothing", "[s3][sigv4]") {
  CHECK(sha256_hex("") == kEmptyPayloadSha256);
}

TEST_CASE("amz dates are UTC basic ISO 8601", "[s3][sigv4]") {
  CHECK(amz_date(kSuiteTime) == "20150830T123600Z");
  CHECK(date_stamp(kSuiteTime) == "20150830");
  CHECK(amz_date(kSuiteTime + 999ms) == "20150830T123600Z");  // sub-seconds dropped, not rounded
  CHECK(amz_date(sys_days{2000y / February / 29} + 23h + 59min + 59s) == "20000229T235959Z");
}

TEST_CASE("the signing key of the AWS General Reference example", "[s3][sigv4]") {
  // "Examples of how to derive a signing key for Signature Version 4": service iam, 20150830.
  CHECK(to_hex(signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", kSuiteTime, "us-east-1", "iam")) ==
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST_CASE("suite: get-vanilla, step by step", "[s3][sigv4]") {
  const auto s = suite_sign({});
  CHECK(s.canonical_request == lines({"GET", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                      "host;x-amz-date", kEmptyPayloadSha256}));
  CHECK(s.string_to_sign == lines({"AWS4-HMAC-SHA256", "20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                                   "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"}));
  CHECK(s.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  CHECK(s.authorization == kSuiteCredential + "SignedHeaders=host;x-amz-date, "
                                              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  REQUIRE(s.added == Headers{{"x-amz-date", "20150830T123600Z"}});
}

TEST_CASE("suite: get-vanilla-query-order-key-case sorts the query", "[s3][sigv4]") {
  const auto s = suite_sign({.query = {{"Param2", "value2"}, {"Param1", "value1"}}});
  CHECK(s.canonical_request.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
  CHECK(s.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST_CASE("suite: get-header-value-trim trims and folds blanks", "[s3][sigv4]") {
  const auto s = suite_sign({.headers = {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}});
  CHECK(s.canonical_request == lines({"GET", "/", "", "host:example.amazonaws.com", "my-header1:value1",
                                      "my-header2:\"a b c\"", "x-amz-date:20150830T123600Z", "",
                                      "host;my-header1;my-header2;x-amz-date", kEmptyPayloadSha256}));
  CHECK(s.string_to_sign.ends_with("\na726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"));
  CHECK(s.authorization == kSuiteCredential + "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                                              "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST_CASE("suite: repeated headers join in the order given", "[s3][sigv4]") {
  // get-header-key-duplicate
  const auto dup = suite_sign({.headers = {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}});
  CHECK(dup.canonical_request.find("\nmy-header1:value2,value2,value1\n") != std::string::npos);
  CHECK(dup.signature == "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
  // get-header-value-order
  const auto order = suite_sign(
      {.headers = {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}});
  CHECK(order.signature == "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
}

TEST_CASE("suite: header names are lower-cased and sorted, values kept", "[s3][sigv4]") {
  // post-vanilla, post-header-key-sort, post-header-value-case
  CHECK(suite_sign({.method = "POST"}).signature == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  CHECK(suite_sign({.method = "POST", .headers = {{"My-Header1", "value1"}}}).signature ==
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
  CHECK(suite_sign({.method = "POST", .headers = {{"My-Header1", "VALUE1"}}}).signature ==
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
}

TEST_CASE("suite: URI and query encoding", "[s3][sigv4]") {
  const std::string unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // get-unreserved
  CHECK(suite_sign({.uri = "/" + unreserved}).signature ==
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
  // get-utf8: the path "/\u1234" encoded once
  const auto utf8 = suite_sign({.uri = uri_encode("/\xE1\x88\xB4", Slash::keep)});
  CHECK(utf8.canonical_request.starts_with("GET\n/%E1%88%B4\n\n"));
  CHECK(utf8.signature == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
  // get-vanilla-empty-query-key
  CHECK(suite_sign({.query = {{"Param1", "value1"}}}).signature ==
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
  // get-vanilla-query-unreserved
  CHECK(suite_sign({.query = {{unreserved, unreserved}}}).signature ==
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
  // get-vanilla-utf8-query
  CHECK(suite_sign({.query = {{"\xE1\x88\xB4", "bar"}}}).signature ==
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
  // post-vanilla-query
  CHECK(suite_sign({.method = "POST", .query = {{"Param1", "value1"}}}).signature ==
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
  // post-vanilla-query-nonunreserved: every reserved character encoded, sorted after encoding
  const auto reserved = suite_sign({.method = "POST", .query = {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}}});
  CHECK(reserved.canonical_request.starts_with(
      "POST\n/\n%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D&%40%23%24%25%5E=\n"));
  CHECK(reserved.signature == "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e");
}

TEST_CASE("suite: post-x-www-form-urlencoded signs the content type and the body hash", "[s3][sigv4]") {
  const auto s = suite_sign(
      {.method = "POST", .headers = {{"Content-Type", "application/x-www-form-urlencoded"}}, .body = "Param1=value1"});
  CHECK(s.canonical_request ==
        lines({"POST", "/", "", "content-type:application/x-www-form-urlencoded", "host:example.amazonaws.com",
               "x-amz-date:20150830T123600Z", "", "content-type;host;x-amz-date",
               "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}));
  CHECK(s.string_to_sign.ends_with("\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"));
  CHECK(s.authorization == kSuiteCredential + "SignedHeaders=content-type;host;x-amz-date, "
                                              "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
  // post-x-www-form-urlencoded-parameters
  CHECK(suite_sign({.method = "POST",
                    .headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
                    .body = "Param1=value1"})
            .signature == "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe");
}

TEST_CASE("suite: session tokens are sent and signed", "[s3][sigv4]") {
  // get-vanilla-with-session-token (aws-c-auth): the signer adds X-Amz-Security-Token itself.
  AccessKey key = kSuiteKey;
  key.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  const auto s = suite_sign({}, key);
  CHECK(s.authorization == kSuiteCredential + "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                                              "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
  CHECK(s.added == Headers{{"x-amz-date", "20150830T123600Z"}, {"x-amz-security-token", *key.session_token}});
  // post-sts-header-before: a token the caller put in the headers itself is signed as given.
  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwth"
      "Ax7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVX"
      "AkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  CHECK(suite_sign({.method = "POST", .headers = {{"X-Amz-Security-Token", token}}}).signature ==
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

TEST_CASE("S3: GET Object with a Range (AWS example, single chunk)", "[s3][sigv4]") {
  const Headers headers{{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  const auto s = sign({.method = "GET",
                       .canonical_uri = "/test.txt",
                       .headers = headers,
                       .payload_hash = kEmptyPayloadSha256,
                       .time = kS3Time,
                       .region = "us-east-1"},
                      kS3Key);
  CHECK(s.canonical_request ==
        lines({"GET", "/test.txt", "", "host:examplebucket.s3.amazonaws.com", "range:bytes=0-9",
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "x-amz-date:20130524T000000Z", "", "host;range;x-amz-content-sha256;x-amz-date", kEmptyPayloadSha256}));
  CHECK(s.string_to_sign == lines({"AWS4-HMAC-SHA256", "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                                   "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"}));
  CHECK(s.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(s.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(s.added == Headers{{"x-amz-date", "20130524T000000Z"}, {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)}});
}

TEST_CASE("S3: PUT Object, the key's '$' encoded once (AWS example)", "[s3][sigv4]") {
  // That example signs a Date header too, so every header given is signed here.
  const auto payload = sha256_hex("Welcome to Amazon S3.");
  CHECK(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const Headers headers{{"Host", "examplebucket.s3.amazonaws.com"},
                        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                        {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  const auto s = sign({.method = "PUT",
                       .canonical_uri = uri_encode("/test$file.text", Slash::keep),
                       .headers = headers,
                       .payload_hash = payload,
                       .time = kS3Time,
                       .region = "us-east-1",
                       .selection = HeaderSelection::all},
                      kS3Key);
  CHECK(s.canonical_request.starts_with("PUT\n/test%24file.text\n\n"));
  CHECK(s.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  CHECK(s.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("S3: GET Bucket Lifecycle and List Objects (AWS examples)", "[s3][sigv4]") {
  const Headers headers{{"Host", "examplebucket.s3.amazonaws.com"}};
  SigningRequest r{.method = "GET",
                   .canonical_uri = "/",
                   .headers = headers,
                   .payload_hash = kEmptyPayloadSha256,
                   .time = kS3Time,
                   .region = "us-east-1"};
  const QueryParams lifecycle{{"lifecycle", ""}};
  r.query = lifecycle;
  const auto s = sign(r, kS3Key);
  CHECK(s.canonical_request.starts_with("GET\n/\nlifecycle=\n"));
  CHECK(s.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  const QueryParams list{{"prefix", "J"}, {"max-keys", "2"}};
  r.query = list;
  CHECK(sign(r, kS3Key).signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("S3 signs only the headers nothing on the way rewrites", "[s3][sigv4]") {
  const Headers headers{{"Host", "b.s3.amazonaws.com"},   {"Content-Length", "5"}, {"User-Agent", "pullthrough"},
                        {"Content-Type", "text/plain"},  {"Content-MD5", "x"},    {"Range", "bytes=0-1"},
                        {"X-Amz-Meta-Digest", "sha256:0"}, {"Expect", "100-continue"}};
  const auto h = canonical_headers(headers, HeaderSelection::s3);
  CHECK(h.signed_headers == "content-md5;content-type;host;range;x-amz-meta-digest");
}

TEST_CASE("the signer refuses requests it cannot sign", "[s3][sigv4]") {
  const auto attempt = [](Headers headers, const AccessKey& key = kS3Key) {
    return sign({.method = "GET", .canonical_uri = "/", .headers = headers, .payload_hash = kEmptyPayloadSha256,
                 .time = kS3Time, .region = "us-east-1"},
                key);
  };
  CHECK_NOTHROW(attempt({{"Host", "h"}}));
  CHECK_THROWS_AS(attempt({}), std::invalid_argument);                                      // no Host
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"X-Amz-Date", "x"}}), std::invalid_argument);   // ours
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"x-amz-content-sha256", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"Authorization", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"Bad Name", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"X-Amz-Meta-A", "a\r\nInjected: 1"}}), std::invalid_argument);
  AccessKey with_token = kS3Key;
  with_token.session_token = "t";
  CHECK_THROWS_AS(attempt({{"Host", "h"}, {"x-amz-security-token", "t"}}, with_token), std::invalid_argument);
}

TEST_CASE("canonical queries encode names and values and sort after encoding", "[s3][sigv4]") {
  CHECK(canonical_query({}) == "");
  const QueryParams q{{"uploadId", "a/b+c=="}, {"partNumber", "2"}, {"uploads", ""}, {"prefix", "a b"}};
  CHECK(canonical_query(q) == "partNumber=2&prefix=a%20b&uploadId=a%2Fb%2Bc%3D%3D&uploads=");
  // Equal names: sorted by value.
  const QueryParams same{{"a", "2"}, {"a", "1"}};
  CHECK(canonical_query(same) == "a=1&a=2");
}
