#include "cache/index_entry.hpp"

#include <nlohmann/json.hpp>

namespace pt::cache {
namespace {

constexpr int kEntryFormat = 1;

void put_u64(std::string& out, std::uint64_t value, int bytes = 8) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::uint64_t get_u64(std::string_view in, int bytes = 8) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

std::int64_t seconds_of(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp timestamp_of(std::int64_t seconds) { return Timestamp(std::chrono::seconds(seconds)); }

// Orders negative times (never written in practice) before positive ones in byte order.
std::uint64_t sortable(Timestamp t) {
  return static_cast<std::uint64_t>(seconds_of(t)) ^ (std::uint64_t{1} << 63);
}
Timestamp from_sortable(std::uint64_t value) {
  return timestamp_of(static_cast<std::int64_t>(value ^ (std::uint64_t{1} << 63)));
}

constexpr std::size_t kFileRecordSize = 8 + 8 + 4;

}  // namespace

std::string encode_entry(const IndexEntry& entry) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [name, value] : entry.headers) headers.push_back({name, value});
  const nlohmann::json json = {
      {"format", kEntryFormat},
      {"digest", entry.digest.str()},
      {"size", entry.size},
      {"media_type", entry.media_type},
      {"headers", std::move(headers)},
      {"created", seconds_of(entry.created)},
      {"fresh_until", seconds_of(entry.fresh_until)},
  };
  return json.dump();
}

std::optional<IndexEntry> decode_entry(std::string_view key, std::string_view value) {
  const auto json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("format", 0) != kEntryFormat) return std::nullopt;
  try {
    auto digest = Digest::parse(json.at("digest").get<std::string>());
    if (!digest) return std::nullopt;
    IndexEntry entry{.key = std::string(key), .digest = std::move(*digest)};
    entry.size = json.at("size").get<std::uint64_t>();
    entry.media_type = json.at("media_type").get<std::string>();
    for (const auto& header : json.at("headers")) {
      entry.headers.emplace_back(header.at(0).get<std::string>(), header.at(1).get<std::string>());
    }
    entry.created = timestamp_of(json.at("created").get<std::int64_t>());
    entry.fresh_until = timestamp_of(json.at("fresh_until").get<std::int64_t>());
    entry.last_access = entry.created;
    return entry;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a damaged record reads as absent; reconcile() removes it
  }
}

std::string encode_file_record(const FileRecord& record) {
  std::string out;
  out.reserve(kFileRecordSize);
  put_u64(out, record.size);
  put_u64(out, static_cast<std::uint64_t>(seconds_of(record.last_access)));
  put_u64(out, record.references, 4);
  return out;
}

std::optional<FileRecord> decode_file_record(const Digest& digest, std::string_view value) {
  if (value.size() != kFileRecordSize) return std::nullopt;
  return FileRecord{
      .digest = digest,
      .size = get_u64(value),
      .last_access = timestamp_of(static_cast<std::int64_t>(get_u64(value.substr(8)))),
      .references = static_cast<std::uint32_t>(get_u64(value.substr(16), 4)),
  };
}

std::string lru_key(Timestamp last_access, const Digest& digest) {
  std::string key;
  put_u64(key, sortable(last_access));
  key.append(digest.str());
  return key;
}

std::optional<std::pair<Timestamp, Digest>> decode_lru_key(std::string_view key) {
  if (key.size() < 8) return std::nullopt;
  auto digest = Digest::parse(key.substr(8));
  if (!digest) return std::nullopt;
  return std::pair{from_sortable(get_u64(key)), std::move(*digest)};
}

}  // namespace pt::cache
