#pragma once
// Range requests on cached blobs (RFC 9110 §14). Pure.
//
// One byte range is honoured with 206: "bytes=a-b", "bytes=a-", "bytes=-n". Multiple ranges are
// answered with the full body (200), which RFC 9110 allows, rather than multipart/byteranges:
// registry clients (containerd, docker) resume with a single range. A malformed header is ignored
// (200 with the full body), as the RFC requires; a well-formed range that lies wholly past the end
// is unsatisfiable (416 with "Content-Range: bytes */size").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::cache {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const noexcept { return last - first + 1; }
};

struct RangeRequest {
  enum class Kind { full, partial, unsatisfiable };
  Kind kind = Kind::full;
  ByteRange range;  // meaningful for partial
};

// `header` is the Range header's value, nullopt when absent; `size` the stored body size.
RangeRequest parse_range(std::optional<std::string_view> header, std::uint64_t size);

std::string content_range(const ByteRange& range, std::uint64_t size);  // "bytes a-b/size"
std::string unsatisfied_content_range(std::uint64_t size);              // "bytes */size"

}  // namespace pt::cache
