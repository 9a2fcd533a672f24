#pragma once
// The `cache ls` and `cache stats` tables as a person reads them in a terminal. The cache library
// gives rows and figures (and their JSON); how they are laid out is the command line's business.
#include "cache/cache_admin.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pt::app {

// REPOSITORY TAG DIGEST SIZE BLOBS LAST ACCESS, one line per row, ages relative to `now`.
std::string format_rows(const std::vector<cache::ImageRow>& rows, cache::Timestamp now);

// The totals, then one line per registry.
std::string format_stats(const cache::CacheStats& stats, std::uint64_t max_bytes);

}  // namespace pt::app
