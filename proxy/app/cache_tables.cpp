#include "proxy/app/cache_tables.hpp"

#include "common/units.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pt::app {
namespace {

using cache::Digest;
using cache::Timestamp;

std::string age(Timestamp then, Timestamp now) {
  const auto seconds = (now - then).count();
  if (seconds < 0) return "just now";
  if (seconds < 120) return fmt::format("{}s ago", seconds);
  if (seconds < 2 * 3600) return fmt::format("{}m ago", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{}h ago", seconds / 3600);
  return fmt::format("{}d ago", seconds / 86400);
}

std::string short_digest(const Digest& digest) {
  return fmt::format("sha256:{}", digest.hex().substr(0, 12));
}

// Columns padded to their widest cell, two spaces apart; no trailing blanks.
std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string format_rows(const std::vector<cache::ImageRow>& rows, Timestamp now) {
  std::vector<std::vector<std::string>> table = {
      {"REPOSITORY", "TAG", "DIGEST", "SIZE", "BLOBS", "LAST ACCESS"}};
  for (const auto& row : rows) {
    table.push_back({row.registry + "/" + row.repository, row.tag.empty() ? "<none>" : row.tag,
                     short_digest(row.digest), format_size(row.size),
                     row.blobs_referenced == 0 && row.blobs_cached == 0
                         ? "-"
                         : fmt::format("{}/{}", row.blobs_cached, row.blobs_referenced),
                     age(row.last_access, now)});
  }
  return format_table(table);
}

std::string format_stats(const cache::CacheStats& stats, std::uint64_t max_bytes) {
  std::string out = fmt::format(
      "total: {} in {} file(s), {} index entries; cap {} ({:.1f}% used)\n",
      format_size(stats.total_bytes), stats.files, stats.entries, format_size(max_bytes),
      max_bytes == 0 ? 0.0 : 100.0 * static_cast<double>(stats.total_bytes) / max_bytes);
  if (stats.registries.empty()) return out + "the cache is empty\n";
  std::vector<std::vector<std::string>> table = {
      {"REGISTRY", "REPOS", "TAGS", "MANIFESTS", "BLOBS", "SIZE", "UNREFERENCED BLOBS"}};
  for (const auto& r : stats.registries) {
    table.push_back({r.registry, std::to_string(r.repositories), std::to_string(r.tags),
                     std::to_string(r.manifests), std::to_string(r.blobs),
                     format_size(r.manifest_bytes + r.blob_bytes),
                     fmt::format("{} ({})", r.unreferenced_blobs, format_size(r.unreferenced_bytes))});
  }
  return out + format_table(table);
}

}  // namespace pt::app
