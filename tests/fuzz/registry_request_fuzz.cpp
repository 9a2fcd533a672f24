// Fuzzes the classification of registry requests and the cache keys made from them: the path
// from client bytes to index keys (and, for blobs, to file names). Invariants:
//   * a cacheable request (blob, manifest, tag) has a valid repository name, a plain GET/HEAD
//     method and a path with no "..", "%", "//", "\" or query;
//   * blob and manifest_by_digest carry a valid sha256 digest equal to the reference (blobs
//     become files named by it); a tag is a valid tag;
//   * a key exists exactly for the cacheable kinds, has no control byte or NUL, no ".." outside
//     a tag, and parses back into the request's fields, so no two different requests can share a
//     key; a tag's fill key is its record's key, '#', and the Accept variant;
//   * accept_variant() is canonical: applying it to its own output changes nothing;
//   * Accept negotiation and the platform pick from an index body take any bytes without
//     throwing, and a picked platform manifest has a valid digest.
#include "cache/cache_key.hpp"
#include "cache/manifest_negotiation.hpp"
#include "cache/registry_request.hpp"
#include "common/host_port.hpp"
#include "fuzz_check.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using pt::cache::RegistryRequest;
using pt::cache::RequestKind;
using pt::fuzz::escaped;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

void check_digest(const pt::cache::Digest& digest) {
  const std::string& text = digest.str();
  FUZZ_CHECK_MSG(text.size() == 71 && text.starts_with("sha256:"), escaped(text));
  FUZZ_CHECK(std::all_of(text.begin() + 7, text.end(), is_lower_hex));
  FUZZ_CHECK(digest.hex() == std::string_view(text).substr(7));
}

bool cacheable(RequestKind kind) {
  return kind == RequestKind::blob || kind == RequestKind::manifest_by_digest || kind == RequestKind::manifest_by_tag;
}

void check_request(const RegistryRequest& request, std::string_view method, std::string_view target) {
  const auto kind = request.kind;
  if (kind == RequestKind::other || kind == RequestKind::push) return;
  FUZZ_CHECK(method == "GET" || method == "HEAD");
  FUZZ_CHECK(request.is_head == (method == "HEAD"));
  const auto path = target.substr(0, target.find('?'));
  FUZZ_CHECK(path.starts_with("/v2/"));
  // ".." inside a segment is fine ("v1..2" is a valid tag); as a whole segment it never is.
  for (const std::string_view bad : {"%", "//", "\\", "#", "/./", "/../"}) {
    FUZZ_CHECK_MSG(path.find(bad) == std::string_view::npos, escaped(target));
  }
  FUZZ_CHECK_MSG(!path.ends_with("/..") && !path.ends_with("/."), escaped(target));
  FUZZ_CHECK(std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; }));
  if (kind == RequestKind::ping) FUZZ_CHECK(path == "/v2/");
  if (kind == RequestKind::catalog) FUZZ_CHECK(path == "/v2/_catalog");
  if (kind == RequestKind::ping || kind == RequestKind::catalog) return;

  FUZZ_CHECK_MSG(pt::cache::is_valid_repository_name(request.repository), escaped(request.repository));
  FUZZ_CHECK(request.repository.find("..") == std::string::npos);  // the name grammar allows no ".."
  FUZZ_CHECK(request.repository.size() <= 255);
  if (kind == RequestKind::tag_list) return;

  FUZZ_CHECK_MSG(target.find('?') == std::string_view::npos, escaped(target));
  const std::string_view what = kind == RequestKind::blob ? "/blobs/" : "/manifests/";
  FUZZ_CHECK_MSG(path == "/v2/" + request.repository + std::string(what) + request.reference, escaped(target));
  if (kind == RequestKind::manifest_by_tag) {
    FUZZ_CHECK(!request.digest);
    FUZZ_CHECK_MSG(pt::cache::is_valid_tag(request.reference), escaped(request.reference));
  } else {
    FUZZ_CHECK(request.digest.has_value());
    check_digest(*request.digest);
    FUZZ_CHECK(request.digest->str() == request.reference);
  }
}

// Reads a key back into its fields; the key must say exactly what the request said.
void check_key(const std::string& key, const RegistryRequest& request, std::string_view registry,
               bool registry_from_host) {
  FUZZ_CHECK(std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; }));
  // ".." may appear only where the request put it: in a tag ("v1..2" is valid).
  if (registry_from_host && request.kind != RequestKind::manifest_by_tag) {
    FUZZ_CHECK_MSG(key.find("..") == std::string::npos, escaped(key));
  }

  std::string_view rest = key;
  const auto take_until = [&](char separator) {
    const auto at = rest.find(separator);
    FUZZ_CHECK_MSG(at != std::string_view::npos, escaped(key));
    const auto field = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    return field;
  };
  const auto kind = take_until('/');
  const auto key_registry = take_until('/');
  FUZZ_CHECK_MSG(key_registry == registry, escaped(key));
  switch (request.kind) {
    case RequestKind::blob:
      FUZZ_CHECK(kind == "blob");
      FUZZ_CHECK(rest == request.digest->str());
      break;
    case RequestKind::manifest_by_digest:
      FUZZ_CHECK(kind == "manifest");
      FUZZ_CHECK(take_until('@') == request.repository);
      FUZZ_CHECK(rest == request.digest->str());
      break;
    case RequestKind::manifest_by_tag:
      FUZZ_CHECK(kind == "tag");
      FUZZ_CHECK(take_until(':') == request.repository);
      FUZZ_CHECK(rest == request.reference);
      break;
    default:
      FUZZ_CHECK_MSG(false, "a key for an uncacheable kind");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider provider(bytes, size);
  static constexpr std::array<const char*, 7> methods = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};
  const auto flags = provider.ConsumeIntegral<std::uint8_t>();
  const std::string method = (flags & 0x80) ? provider.ConsumeRandomLengthString(8) : methods[flags % methods.size()];
  const std::string target = provider.ConsumeRandomLengthString(600);
  const std::string host = provider.ConsumeRandomLengthString(80);
  const std::string accept = provider.ConsumeRemainingBytesAsString();

  const auto request = pt::cache::classify_request(method, target);
  check_request(request, method, target);

  // The registry as the proxy derives it: from a parsed CONNECT target. Arbitrary text too, since
  // cache_key() promises to refuse a registry that would break the key layout.
  std::string registry = host;
  bool registry_from_host = false;
  if (const auto authority = pt::parse_connect_target(host)) {
    registry = pt::cache::registry_authority(authority->host, *authority->port);
    registry_from_host = true;
  }
  const auto key = pt::cache::cache_key(request, registry);
  if (registry_from_host) FUZZ_CHECK(key.has_value() == cacheable(request.kind));
  if (!cacheable(request.kind)) FUZZ_CHECK(!key);
  if (key) check_key(*key, request, registry, registry_from_host);

  const auto variant = pt::cache::accept_variant(accept);
  FUZZ_CHECK_MSG(pt::cache::accept_variant(variant) == variant, escaped(variant));
  if (key && request.kind == RequestKind::manifest_by_tag) {
    FUZZ_CHECK(pt::cache::tag_fill_key(*key, accept) == *key + "#" + variant);
  }

  // The same bytes as an Accept header and as an index body: no exception, sane answers.
  const auto accepted = pt::cache::AcceptedTypes::parse(accept);
  (void)accepted.accepts(target);
  (void)accepted.accepts_index();
  if (const auto platform = pt::cache::platform_manifest(accept)) {
    FUZZ_CHECK(pt::cache::Digest::parse(platform->digest.str()).has_value());
  }
  return 0;
}
