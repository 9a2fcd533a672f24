#pragma once
// Error codes for the cache's expected failures (a download whose bytes do not match its digest, a
// fill abandoned by its writer, ...). They travel as std::error_code beside the system's own
// errors (ENOSPC, ENOENT), so callers handle both the same way.
#include <system_error>

namespace pt::cache {

enum class CacheErrc {
  digest_mismatch = 1,  // the bytes hash to something other than the expected digest
  size_mismatch,        // fewer or more bytes than Content-Length announced (truncation)
  fill_abandoned,       // the writer went away before finishing
  fill_failed,          // the writer reported an upstream or local failure
  not_cacheable,        // upstream answered with something we do not store (e.g. 404)
  too_large,            // larger than the whole cache may hold
  corrupt_blob,         // a stored file no longer matches its digest or recorded size
};

const std::error_category& cache_category() noexcept;

std::error_code make_error_code(CacheErrc errc) noexcept;

}  // namespace pt::cache

template <>
struct std::is_error_code_enum<pt::cache::CacheErrc> : std::true_type {};
