#include "s3/responses.hpp"

#include "common/ascii.hpp"
#include "s3/xml.hpp"

#include <cstdint>
#include <optional>

namespace pt::s3 {

namespace {

// The root, when the document parses and its root has that name.
template <class T>
std::optional<ParseResult<T>> root_problem(const ParseResult<XmlElement>& doc, std::string_view name) {
  if (!doc) return ParseResult<T>::failure("not XML: " + doc.error);
  if (doc->name != name) {
    return ParseResult<T>::failure("expected <" + std::string(name) + ">, got <" + printable(doc->name, 60) + ">");
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  const auto t = trim(text);
  if (t == "true") return true;
  if (t == "false" || t.empty()) return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto t = trim(text);
  if (t.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

S3Error error_from(const XmlElement& root) {
  return {std::string(root.child_text("Code")), std::string(root.child_text("Message")),
          std::string(root.child_text("Resource")), std::string(root.child_text("RequestId"))};
}

}  // namespace

std::string S3Error::describe() const {
  std::string out = printable(code, 80);
  if (!trim(message).empty()) out += ": " + printable(trim(message), 300);
  return out;
}

ParseResult<S3Error> parse_error(std::string_view body) {
  const auto doc = parse_xml(body);
  if (auto problem = root_problem<S3Error>(doc, "Error")) return *problem;
  auto error = error_from(*doc);
  if (trim(error.code).empty()) return ParseResult<S3Error>::failure("an <Error> without a <Code>");
  return ParseResult<S3Error>::success(std::move(error));
}

ParseResult<std::string> parse_initiate_multipart_upload(std::string_view body) {
  using R = ParseResult<std::string>;
  const auto doc = parse_xml(body);
  if (auto problem = root_problem<std::string>(doc, "InitiateMultipartUploadResult")) return *problem;
  const auto upload_id = doc->child_text("UploadId");
  if (upload_id.empty()) return R::failure("no <UploadId>");
  return R::success(std::string(upload_id));
}

ParseResult<std::variant<CompletedUpload, S3Error>> parse_complete_multipart_upload(std::string_view body) {
  using R = ParseResult<std::variant<CompletedUpload, S3Error>>;
  const auto doc = parse_xml(body);
  if (!doc) return R::failure("not XML: " + doc.error);
  if (doc->name == "Error") {
    auto error = error_from(*doc);
    if (trim(error.code).empty()) return R::failure("an <Error> without a <Code>");
    return R::success(std::move(error));
  }
  if (doc->name != "CompleteMultipartUploadResult") {
    return R::failure("expected <CompleteMultipartUploadResult>, got <" + printable(doc->name, 60) + ">");
  }
  return R::success(CompletedUpload{std::string(doc->child_text("Location")), std::string(doc->child_text("Bucket")),
                                    std::string(doc->child_text("Key")), std::string(doc->child_text("ETag"))});
}

ParseResult<ObjectListing> parse_list_objects_v2(std::string_view body) {
  using R = ParseResult<ObjectListing>;
  const auto doc = parse_xml(body);
  if (auto problem = root_problem<ObjectListing>(doc, "ListBucketResult")) return *problem;
  ObjectListing out;
  const auto truncated = parse_bool(doc->child_text("IsTruncated"));
  if (!truncated) return R::failure("a bad <IsTruncated>");
  out.is_truncated = *truncated;
  out.next_continuation_token = std::string(doc->child_text("NextContinuationToken"));
  // Without a token a truncated listing could only be restarted from the top, forever.
  if (out.is_truncated && out.next_continuation_token.empty()) {
    return R::failure("a truncated listing without <NextContinuationToken>");
  }
  for (const auto* entry : doc->children_named("Contents")) {
    ObjectEntry object;
    object.key = std::string(entry->child_text("Key"));
    if (object.key.empty()) return R::failure("a <Contents> without a <Key>");
    const auto size = parse_size(entry->child_text("Size"));
    if (!size) return R::failure("a bad <Size> for a key");
    object.size = *size;
    const auto modified = parse_iso8601(trim(entry->child_text("LastModified")));
    if (!modified) return R::failure("a bad <LastModified> for a key: " + modified.error);
    object.last_modified = *modified;
    object.etag = std::string(entry->child_text("ETag"));
    out.objects.push_back(std::move(object));
  }
  return R::success(std::move(out));
}

ParseResult<UploadListing> parse_list_multipart_uploads(std::string_view body) {
  using R = ParseResult<UploadListing>;
  const auto doc = parse_xml(body);
  if (auto problem = root_problem<UploadListing>(doc, "ListMultipartUploadsResult")) return *problem;
  UploadListing out;
  const auto truncated = parse_bool(doc->child_text("IsTruncated"));
  if (!truncated) return R::failure("a bad <IsTruncated>");
  out.is_truncated = *truncated;
  out.next_key_marker = std::string(doc->child_text("NextKeyMarker"));
  out.next_upload_id_marker = std::string(doc->child_text("NextUploadIdMarker"));
  if (out.is_truncated && out.next_key_marker.empty()) return R::failure("a truncated listing without <NextKeyMarker>");
  for (const auto* entry : doc->children_named("Upload")) {
    UploadEntry upload;
    upload.key = std::string(entry->child_text("Key"));
    upload.upload_id = std::string(entry->child_text("UploadId"));
    if (upload.key.empty() || upload.upload_id.empty()) return R::failure("an <Upload> without <Key> or <UploadId>");
    const auto initiated = parse_iso8601(trim(entry->child_text("Initiated")));
    if (!initiated) return R::failure("a bad <Initiated> for an upload: " + initiated.error);
    upload.initiated = *initiated;
    out.uploads.push_back(std::move(upload));
  }
  return R::success(std::move(out));
}

}  // namespace pt::s3
