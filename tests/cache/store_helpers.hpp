#pragma once
// Stores content through the same path the proxy uses: a fill, then commit_fill.
#include "cache/cache_store.hpp"
#include "test_content.hpp"

#include <string>

namespace pt::cache::test {

inline std::error_code store_content(CacheStore& store, const std::string& key,
                                     std::string_view content, Timestamp now,
                                     Timestamp fresh_until = kForever) {
  std::error_code ec;
  auto attachment = store.fills().find_or_start(key, ec);
  if (ec) return ec;
  auto& writer = *attachment.writer;
  writer.publish_response({.media_type = "application/vnd.oci.image.manifest.v1+json",
                           .headers = {{"Docker-Content-Digest", digest_of(content).str()}},
                           .content_length = content.size(),
                           .expected_digest = std::nullopt});
  if (auto error = writer.append(content)) return error;
  if (auto error = writer.finish()) return error;
  return store.commit_fill(writer, now, fresh_until);
}

}  // namespace pt::cache::test
