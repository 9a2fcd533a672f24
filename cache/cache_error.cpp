#include "cache/cache_error.hpp"

#include <string>

namespace pt::cache {
namespace {

class CacheCategory final : public std::error_category {
public:
  const char* name() const noexcept override { return "pt.cache"; }

  std::string message(int value) const override {
    switch (static_cast<CacheErrc>(value)) {
      case CacheErrc::digest_mismatch: return "content does not match its digest";
      case CacheErrc::size_mismatch: return "content length does not match";
      case CacheErrc::fill_abandoned: return "cache fill abandoned by its writer";
      case CacheErrc::fill_failed: return "cache fill failed";
      case CacheErrc::not_cacheable: return "upstream response is not cacheable";
      case CacheErrc::too_large: return "object is larger than the cache";
      case CacheErrc::corrupt_blob: return "cached blob is corrupt";
    }
    return "unknown cache error";
  }
};

}  // namespace

const std::error_category& cache_category() noexcept {
  static const CacheCategory category;
  return category;
}

std::error_code make_error_code(CacheErrc errc) noexcept {
  return {static_cast<int>(errc), cache_category()};
}

}  // namespace pt::cache
