#pragma once
// The pure parts of pre-warming (POST /admin/warm, warm_job.hpp does the I/O): the request body,
// which manifests of an index a warm takes, what an image manifest names, and the progress lines
// the response streams. No I/O here, so each is unit-tested on its own.
//
// Request:  {"images": ["registry.test:5000/team/app:1.0", "alpine:3.19"], "platforms": ["linux/amd64"]}
//           ("platforms" optional: every manifest of an index)
// Response: one JSON object per line (NDJSON), see the line functions below.
#include "common/image_reference.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::ops {

struct WarmLimits {
  std::size_t max_images = 100;   // per request: a warm is a rollout's images, not a catalogue
  std::size_t max_body = 256 * 1024;  // the request body
};

// "os/architecture[/variant]", as docker's --platform.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;  // empty: any variant
  std::string str() const;
  bool operator==(const Platform&) const = default;
};
std::optional<Platform> parse_platform(std::string_view text);

struct WarmRequest {
  std::vector<ImageReference> images;  // "latest" filled in where no tag or digest was given
  std::vector<Platform> platforms;     // empty: every platform
};

struct ParsedWarmRequest {
  std::optional<WarmRequest> request;
  std::string error;  // for a 400: what is wrong, naming the offending entry (made printable)
};
ParsedWarmRequest parse_warm_request(std::string_view body, const WarmLimits& limits = {});

// A content descriptor of a manifest: what the warm fetches next.
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>", checked
  std::uint64_t size = 0;
  std::optional<Platform> platform;  // index entries only
};

bool is_index_type(std::string_view media_type);
// The media type of a manifest body: the response's Content-Type, else the body's "mediaType"
// (schema 2 manifests carry it; an OCI manifest may not), else "" (unknown).
std::string manifest_media_type(std::string_view content_type, std::string_view body);

struct IndexSelection {
  std::vector<Descriptor> manifests;
  std::string error;  // not an index, or no manifest for the requested platforms
};
// The manifests of an index a warm fetches: every one when `platforms` is empty, else those whose
// platform matches one requested (os and architecture equal; the variant too when one is asked
// for, arm64's missing variant being "v8"). Entries without a platform (attestations) go only with
// "every platform".
IndexSelection select_manifests(std::string_view index_body, const std::vector<Platform>& platforms);
bool platform_matches(const Platform& wanted, const Platform& candidate);

struct ImageBlobs {
  std::vector<Descriptor> blobs;  // the config first, then the layers
  std::string error;
};
// The config and layers of an image manifest (OCI or Docker schema 2).
ImageBlobs manifest_blobs(std::string_view manifest_body);

// ---------------------------------------------------------------- progress lines
// Each a JSON object and a '\n'. Fields: "image" (the reference as given, normalised), "event".
struct ImageProgress {
  std::string image;
  std::size_t manifests = 0;       // fetched so far (tag, index, platform manifests)
  std::vector<std::string> platforms;  // of the manifests taken from an index
  std::size_t blobs_total = 0;     // configs and layers, each digest once
  std::size_t blobs_done = 0;
  std::size_t blobs_cached = 0;    // of blobs_done: already in the cache (no download)
  std::uint64_t bytes_total = 0;   // the blobs' sizes
  std::uint64_t bytes = 0;         // blob bytes read through the proxy during this warm
};
// "manifests": the manifests are in, the blobs are known.
std::string manifests_line(const ImageProgress& progress);
// "blob": one more blob done (`blob`: its digest).
std::string blob_line(const ImageProgress& progress, std::string_view blob, bool cached);
// "progress": bytes of a blob still flowing (so a long layer shows life).
std::string bytes_line(const ImageProgress& progress);
std::string done_line(const ImageProgress& progress);
std::string failed_line(const ImageProgress& progress, std::string_view reason);
struct WarmSummary {
  std::size_t images = 0;
  std::size_t warmed = 0;
  std::size_t failed = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};
std::string summary_line(const WarmSummary& summary);

}  // namespace pt::ops
