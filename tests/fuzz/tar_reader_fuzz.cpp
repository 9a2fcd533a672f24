// Fuzzes the tar reader of `cache import` (archives from anywhere). Invariants besides not
// crashing: every entry it hands out has a normal, relative path without ".." (the property
// that keeps an import inside the cache); it never hands out more content than the input holds;
// once it fails it stays failed; and what it read, written again by TarWriter, reads back the
// same (the writer and the reader agree).
#include "cache/tar_reader.hpp"
#include "cache/tar_writer.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using pt::cache::TarEntry;
using pt::cache::TarLimits;
using pt::cache::TarReader;

struct Entry {
  TarEntry::Type type;
  std::string path;
  std::string content;
};


// Reads everything; false when the reader failed.
bool read_all(const char* data, std::size_t size, std::size_t chunk, std::vector<Entry>& out) {
  std::size_t offset = 0;
  TarLimits limits;
  limits.max_entries = 1000;
  limits.max_extended_header_bytes = 4096;
  TarReader reader(
      [&](std::span<char> buffer, std::error_code&) {
        const auto n = std::min({buffer.size(), size - offset, chunk});
        std::memcpy(buffer.data(), data + offset, n);
        offset += n;
        return n;
      },
      limits);
  std::size_t content_bytes = 0;
  while (auto entry = reader.next()) {
    FUZZ_CHECK(!reader.failed());
    FUZZ_CHECK_MSG(pt::cache::tar_detail::normalise_path(entry->path) == entry->path, pt::fuzz::escaped(entry->path));
    FUZZ_CHECK(!entry->path.starts_with("/"));
    FUZZ_CHECK(entry->path != ".." && !entry->path.starts_with("../") && entry->path.find("/../") == std::string::npos &&
               !entry->path.ends_with("/.."));
    std::string content;
    char buffer[333];
    while (const auto n = reader.read(buffer)) {
      FUZZ_CHECK(n <= sizeof buffer);
      content.append(buffer, n);
    }
    content_bytes += content.size();
    FUZZ_CHECK(content_bytes <= size);
    if (!reader.failed()) FUZZ_CHECK(content.size() == entry->size);
    out.push_back({entry->type, entry->path, std::move(content)});
  }
  if (reader.failed()) {
    FUZZ_CHECK(!reader.next());  // stays failed
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const auto* data = reinterpret_cast<const char*>(bytes);
  std::vector<Entry> whole, pieces;
  const bool ok = read_all(data, size, size + 1, whole);
  // Short reads from the source change nothing.
  const bool ok_pieces = read_all(data, size, 7, pieces);
  FUZZ_CHECK(ok == ok_pieces && whole.size() == pieces.size());
  if (!ok) return 0;

  std::string rewritten;
  pt::cache::TarWriter writer([&](std::span<const char> out) {
    rewritten.append(out.data(), out.size());
    return std::error_code{};
  });
  for (const auto& entry : whole) {
    const auto error = entry.type == TarEntry::Type::directory ? writer.add_directory(entry.path)
                                                               : writer.add_file(entry.path, entry.content);
    FUZZ_CHECK_MSG(!error, pt::fuzz::escaped(entry.path));
  }
  FUZZ_CHECK(!writer.finish());
  std::vector<Entry> again;
  FUZZ_CHECK(read_all(rewritten.data(), rewritten.size(), rewritten.size() + 1, again));
  FUZZ_CHECK(again.size() == whole.size());
  for (std::size_t i = 0; i < again.size(); ++i) {
    FUZZ_CHECK(again[i].path == whole[i].path && again[i].type == whole[i].type && again[i].content == whole[i].content);
  }
  return 0;
}
