#pragma once
// Where blobs live on S3: BLOB_STORE=s3://BUCKET[/PREFIX] and the S3_* settings, turned into the
// endpoint to connect to and, for each object key, the Host header and the encoded path.
//
// Two addressing styles exist. Virtual-host style puts the bucket in the host name
// ("bucket.s3.eu-west-1.amazonaws.com/key"): AWS's default, and the only one for buckets created
// since 2020. Path style puts it in the path ("rgw.local:7480/bucket/key"): what Ceph RGW and MinIO
// expect without wildcard DNS, hence the default when S3_ENDPOINT is set.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::s3 {

// The settings as the caller read them; an empty view is "not set".
struct StoreSettings {
  std::string_view blob_store;  // BLOB_STORE: "s3://bucket[/prefix]"
  std::string_view endpoint;    // S3_ENDPOINT: "https://host[:port]" or "http://host[:port]"; empty: AWS
  std::string_view region;      // S3_REGION; empty: us-east-1
  std::string_view path_style;  // S3_PATH_STYLE: true/false/yes/no/on/off/1/0; empty: the default
};

struct Endpoint {
  std::string scheme;  // "https" or "http"
  std::string host;    // to connect to (without the bucket); an IPv6 literal without brackets
  std::uint16_t port = 443;
  bool path_style = false;
  std::string region;
  std::string bucket;
  std::string prefix;  // without leading or trailing '/', possibly empty

  bool tls() const { return scheme == "https"; }

  // The Host header (and the name TLS verifies): "bucket.host" in virtual-host style, else the
  // host; ":port" only when not the scheme's default, IPv6 bracketed.
  std::string host_header() const;

  // Our key under the prefix: "blobs/sha256/ab/ab12..." -> "PREFIX/blobs/sha256/ab/ab12...".
  std::string full_key(std::string_view key) const;
  // The reverse, for keys from a listing: nullopt when `full` is not under the prefix.
  std::optional<std::string> relative_key(std::string_view full) const;

  // The request path of an object (URI-encoded per segment, '/' kept): the path sent and the
  // canonical URI signed. Throws std::invalid_argument for a key we would never make (empty, not
  // printable ASCII, a leading '/', an empty, "." or ".." segment, over 1024 bytes with the prefix):
  // those would be normalized away by some HTTP stack between us and the bucket.
  std::string object_path(std::string_view key) const;
  // The request path of the bucket itself (listings, HeadBucket): "/bucket" or "/".
  std::string bucket_path() const;

  // "https://s3.eu-west-1.amazonaws.com bucket example-bucket prefix cache": for start-up errors
  // and logs (nothing secret in an endpoint).
  std::string describe() const;
};

// Throws std::invalid_argument naming the setting (BLOB_STORE, S3_ENDPOINT, S3_REGION or
// S3_PATH_STYLE) and what is wrong with it. BLOB_STORE must not be empty: an empty one means the
// local store, which the caller decides before asking for an endpoint.
Endpoint parse_store_location(const StoreSettings& settings);

// Bucket names as S3 allows them today: 3-63 characters of lower-case letters, digits, '.' and
// '-', starting and ending with a letter or digit, no "..", not an IPv4 address. Returns why a name
// is invalid, or an empty view when it is valid.
std::string_view bucket_name_problem(std::string_view name);

}  // namespace pt::s3
