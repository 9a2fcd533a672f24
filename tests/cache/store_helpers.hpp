#pragma once
// Stores content through the same path the proxy uses: a fill, then commit_fill.
#include "cache/cache_store.hpp"
#include "test_content.hpp"

#include <string>

namespace pt::cache::test {

// Stores `content` under `key` as a completed fill with the given Content-Type.
inline std::error_code store_typed(CacheStore& store, const std::string& key, std::string_view content,
                                   std::string_view media_type, Timestamp now, Timestamp fresh_until = kForever) {
  std::error_code ec;
  auto attachment = store.fills().find_or_start(key, ec);
  if (ec) return ec;
  auto& writer = *attachment.writer;
  writer.publish_response({.media_type = std::string(media_type),
                           .headers = {{"Docker-Content-Digest", digest_of(content).str()}},
                           .content_length = content.size(),
                           .expected_digest = std::nullopt});
  if (auto error = writer.append(content)) return error;
  if (auto error = writer.finish()) return error;
  return store.commit_fill(writer, now, fresh_until);
}

inline std::error_code store_content(CacheStore& store, const std::string& key,
                                     std::string_view content, Timestamp now,
                                     Timestamp fresh_until = kForever) {
  return store_typed(store, key, content, "application/vnd.oci.image.manifest.v1+json", now, fresh_until);
}

}  // namespace pt::cache::test
