#pragma once
// Deterministic test bodies and their digests.
#include "cache/digest.hpp"

#include <string>

namespace pt::cache::test {

inline std::string make_content(std::size_t size, unsigned seed = 1) {
  std::string content(size, '\0');
  unsigned state = seed * 2654435761u + 1;
  for (auto& c : content) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 16);
  }
  return content;
}

inline Digest digest_of(std::string_view content) {
  Sha256 hasher;
  hasher.update(content);
  return hasher.finish();
}

}  // namespace pt::cache::test
