#pragma once
// The cache's decisions, free of I/O: whether to answer from the cache, revalidate, fetch and
// store, or just forward; what to do with a revalidation's answer; which upstream responses and
// headers may be stored; and the CacheStatus reported for each outcome.
#include "cache/registry_request.hpp"
#include "cache/tag_record.hpp"
#include "cache/timestamp.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace pt::cache {

enum class CacheStatus { hit, miss, revalidated, stale, bypass };

std::string_view to_string(CacheStatus status) noexcept;  // "HIT", "MISS", ...

enum class CacheAction {
  serve_cached,  // answer from the stored copy (HIT)
  revalidate,    // ask upstream (HEAD) whether the stored tag still points at the same digest
  fill,          // GET upstream, stream to the client and into the cache (MISS)
  forward,       // relay upstream's answer without storing it (MISS: a HEAD has no body to store)
  bypass,        // not cacheable at all (BYPASS)
};

// `cached_fresh_until` is the stored entry's freshness, nullopt when nothing is stored.
// Digest-addressed content never goes stale; a tag manifest past its window is revalidated.
CacheAction decide(const RegistryRequest& request, std::optional<Timestamp> cached_fresh_until,
                   Timestamp now);

// The status reported when `action` completes as planned (revalidate: see on_tag_revalidation).
CacheStatus planned_status(CacheAction action) noexcept;

// What upstream said to a revalidation HEAD or a re-fetch.
struct UpstreamAnswer {
  bool reachable = true;  // false: DNS, connect, TLS or timeout failure
  int status = 0;
  std::optional<std::string> docker_content_digest;
};

// True when upstream's failure should be hidden behind the stored copy (stale-if-error):
// unreachable, 429 (rate limited) or any 5xx, as rpardini's proxy_cache_use_stale.
bool is_upstream_failure(const UpstreamAnswer& answer) noexcept;

// Only complete 200 responses are stored (206 is a fragment, everything else is not content).
// Cache-Control is otherwise ignored, as rpardini does: registries and the CDNs they redirect
// to send misleading Expires/Cache-Control, and digest-addressed bytes are verified anyway. The
// one exception is "no-store" on a tag manifest, honoured as an explicit request of the registry.
// What a revalidation HEAD (sent with revalidation_accept()) says about a tag's record.
enum class TagRevalidation {
  confirmed,  // same tag: the record is fresh again
  moved,      // the tag points elsewhere now: fetch it again, the old variants go
  failed,     // upstream failure (is_upstream_failure): serve a stored variant, STALE
  deleted,    // 404: the tag is gone upstream. Its record goes too, so that an outage later does not
              // bring it back (stale-if-error is for errors, not deletions); the client gets the 404
  relay,      // anything else (401, 403): the registry's own answer goes to the client
};
// The tag is confirmed when the HEAD's digest is the record's head_digest or, while that is
// unknown, one of its variants (a single-platform tag answers everyone with one manifest).
TagRevalidation on_tag_revalidation(const UpstreamAnswer& answer, const TagRecord& record);

bool is_cacheable_response(RequestKind kind, int status, std::string_view cache_control);

// The upstream response headers stored with an entry and replayed on hits. Hop-by-hop, length and
// framing headers are recomputed by the proxy; cookies and auth challenges are per client.
bool is_replayed_header(std::string_view name) noexcept;

}  // namespace pt::cache
