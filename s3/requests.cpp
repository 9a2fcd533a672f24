#include "s3/requests.hpp"

#include "s3/uri_encode.hpp"

#include <algorithm>
#include <stdexcept>

namespace pt::s3 {

namespace {

constexpr std::uint32_t kMaxPartNumber = 10000;

RequestSpec base(std::string method, const Endpoint& endpoint, std::string path, std::vector<int> success) {
  RequestSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.headers.push_back({"Host", endpoint.host_header()});
  spec.success = std::move(success);
  return spec;
}

void check_upload_id(std::string_view upload_id) {
  if (upload_id.empty()) throw std::invalid_argument("S3: an empty upload ID");
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string RequestSpec::target() const {
  std::string out = path;
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& q : query) encoded.emplace_back(uri_encode(q.name), uri_encode(q.value));
  std::sort(encoded.begin(), encoded.end());  // the signed order; any order would do on the wire
  char separator = '?';
  for (const auto& [name, value] : encoded) {
    out.push_back(separator);
    separator = '&';
    out += name;
    if (!value.empty()) out += "=" + value;
  }
  return out;
}

bool RequestSpec::succeeded(int status) const {
  return std::find(success.begin(), success.end(), status) != success.end();
}

Headers authorize(const RequestSpec& spec, const Endpoint& endpoint, const AccessKey& key, TimePoint now) {
  auto signature = sign({.method = spec.method,
                         .canonical_uri = spec.path,
                         .query = spec.query,
                         .headers = spec.headers,
                         .payload_hash = spec.payload_hash,
                         .time = now,
                         .region = endpoint.region},
                        key);
  Headers out{{"Authorization", std::move(signature.authorization)}};
  for (auto& h : signature.added) out.push_back(std::move(h));
  return out;
}

RequestSpec put_object(const Endpoint& endpoint, std::string_view key, std::uint64_t content_length,
                       std::string_view payload_hash, std::string_view content_type) {
  auto spec = base("PUT", endpoint, endpoint.object_path(key), {200});
  spec.headers.push_back({"Content-Length", std::to_string(content_length)});
  spec.headers.push_back({"Content-Type", std::string(content_type)});
  spec.payload_hash = std::string(payload_hash);
  return spec;
}

RequestSpec get_object(const Endpoint& endpoint, std::string_view key, std::optional<std::string_view> range) {
  auto spec = base("GET", endpoint, endpoint.object_path(key), {200});
  if (range) {
    spec.headers.push_back({"Range", std::string(*range)});
    spec.success.push_back(206);
  }
  return spec;
}

RequestSpec head_object(const Endpoint& endpoint, std::string_view key) {
  return base("HEAD", endpoint, endpoint.object_path(key), {200});
}

RequestSpec delete_object(const Endpoint& endpoint, std::string_view key) {
  return base("DELETE", endpoint, endpoint.object_path(key), {204, 200});
}

RequestSpec create_multipart_upload(const Endpoint& endpoint, std::string_view key, std::string_view content_type) {
  auto spec = base("POST", endpoint, endpoint.object_path(key), {200});
  spec.query.push_back({"uploads", ""});
  spec.headers.push_back({"Content-Type", std::string(content_type)});
  spec.headers.push_back({"Content-Length", "0"});
  return spec;
}

RequestSpec upload_part(const Endpoint& endpoint, std::string_view key, std::string_view upload_id,
                        std::uint32_t part_number, std::uint64_t content_length, std::string_view payload_hash) {
  check_upload_id(upload_id);
  if (part_number < 1 || part_number > kMaxPartNumber) throw std::invalid_argument("S3: a part number not in 1..10000");
  auto spec = base("PUT", endpoint, endpoint.object_path(key), {200});
  spec.query.push_back({"partNumber", std::to_string(part_number)});
  spec.query.push_back({"uploadId", std::string(upload_id)});
  spec.headers.push_back({"Content-Length", std::to_string(content_length)});
  spec.payload_hash = std::string(payload_hash);
  return spec;
}

std::string complete_multipart_upload_body(const std::vector<CompletedPart>& parts) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& part : parts) {
    out += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>" + xml_escape(part.etag) +
           "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

RequestSpec complete_multipart_upload(const Endpoint& endpoint, std::string_view key, std::string_view upload_id,
                                      const std::vector<CompletedPart>& parts) {
  check_upload_id(upload_id);
  if (parts.empty()) throw std::invalid_argument("S3: completing an upload with no part");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].part_number < 1 || parts[i].part_number > kMaxPartNumber ||
        (i > 0 && parts[i].part_number <= parts[i - 1].part_number)) {
      throw std::invalid_argument("S3: completing an upload with parts not in ascending order within 1..10000");
    }
  }
  auto spec = base("POST", endpoint, endpoint.object_path(key), {200});
  spec.query.push_back({"uploadId", std::string(upload_id)});
  spec.body = complete_multipart_upload_body(parts);
  spec.headers.push_back({"Content-Type", "application/xml"});
  spec.headers.push_back({"Content-Length", std::to_string(spec.body.size())});
  spec.payload_hash = sha256_hex(spec.body);
  return spec;
}

RequestSpec abort_multipart_upload(const Endpoint& endpoint, std::string_view key, std::string_view upload_id) {
  check_upload_id(upload_id);
  auto spec = base("DELETE", endpoint, endpoint.object_path(key), {204, 200});
  spec.query.push_back({"uploadId", std::string(upload_id)});
  return spec;
}

RequestSpec list_objects_v2(const Endpoint& endpoint, const ListObjectsOptions& options) {
  auto spec = base("GET", endpoint, endpoint.bucket_path(), {200});
  spec.query.push_back({"list-type", "2"});
  const auto prefix = endpoint.prefix.empty() ? options.prefix : endpoint.prefix + "/" + options.prefix;
  if (!prefix.empty()) spec.query.push_back({"prefix", prefix});
  if (!options.continuation_token.empty()) spec.query.push_back({"continuation-token", options.continuation_token});
  spec.query.push_back({"max-keys", std::to_string(std::clamp<std::uint32_t>(options.max_keys, 1, 1000))});
  return spec;
}

RequestSpec list_multipart_uploads(const Endpoint& endpoint, const ListUploadsOptions& options) {
  auto spec = base("GET", endpoint, endpoint.bucket_path(), {200});
  spec.query.push_back({"uploads", ""});
  const auto prefix = endpoint.prefix.empty() ? options.prefix : endpoint.prefix + "/" + options.prefix;
  if (!prefix.empty()) spec.query.push_back({"prefix", prefix});
  if (!options.key_marker.empty()) spec.query.push_back({"key-marker", options.key_marker});
  if (!options.upload_id_marker.empty()) spec.query.push_back({"upload-id-marker", options.upload_id_marker});
  spec.query.push_back({"max-uploads", std::to_string(std::clamp<std::uint32_t>(options.max_uploads, 1, 1000))});
  return spec;
}

RequestSpec head_bucket(const Endpoint& endpoint) { return base("HEAD", endpoint, endpoint.bucket_path(), {200}); }

}  // namespace pt::s3
