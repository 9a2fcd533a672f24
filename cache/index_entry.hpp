#pragma once
// What the index stores: one IndexEntry per cache key, one FileRecord per blob file.
//
// Entries (a blob, a manifest by digest, a tag manifest per Accept variant) point at content-
// addressed blob files, and several entries may share one file: a tag and its digest manifest,
// or one blob fetched through two registries. Sizes, recency and eviction are therefore kept per
// file, so shared bytes are counted once and evicting a file drops every entry that needs it.
#include "cache/digest.hpp"
#include "cache/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::cache {

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

struct IndexEntry {
  std::string key;
  Digest digest;           // the blob file holding the body
  std::uint64_t size = 0;  // body length
  std::string media_type;  // Content-Type
  Headers headers;         // upstream headers replayed on hits (see is_replayed_header)
  Timestamp created{};
  Timestamp fresh_until{};  // kForever for digest-addressed content
  Timestamp last_access{};  // of the blob file; filled in by Index::get, not stored per entry
};

struct FileRecord {
  Digest digest;
  std::uint64_t size = 0;
  Timestamp last_access{};
  std::uint32_t references = 0;  // entries pointing at this file
};

// Entries are JSON: extensible, and readable when inspecting the index by hand.
std::string encode_entry(const IndexEntry& entry);
std::optional<IndexEntry> decode_entry(std::string_view key, std::string_view value);

// File records are fixed-size binary: they are rewritten on every (coalesced) access.
std::string encode_file_record(const FileRecord& record);
std::optional<FileRecord> decode_file_record(const Digest& digest, std::string_view value);

// LRU order key: big-endian seconds then the digest, so a byte-wise ordered scan visits the least
// recently used files first.
std::string lru_key(Timestamp last_access, const Digest& digest);
std::optional<std::pair<Timestamp, Digest>> decode_lru_key(std::string_view key);

}  // namespace pt::cache
