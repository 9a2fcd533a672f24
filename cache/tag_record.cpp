#include "cache/tag_record.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace pt::cache {
namespace {

constexpr int kTagRecordFormat = 1;

std::int64_t seconds_of(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp timestamp_of(std::int64_t seconds) { return Timestamp(std::chrono::seconds(seconds)); }

}  // namespace

void merge_variant(TagRecord& record, TagVariant variant, bool replace_all) {
  if (replace_all) record.variants.clear();
  record.fetched = std::max(record.fetched, variant.fetched);
  const auto same = std::find_if(record.variants.begin(), record.variants.end(),
                                 [&](const TagVariant& v) { return v.digest == variant.digest; });
  if (same != record.variants.end()) {
    *same = std::move(variant);
  } else {
    record.variants.push_back(std::move(variant));
  }
}

std::string encode_tag_record(const TagRecord& record) {
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& v : record.variants) {
    variants.push_back({{"digest", v.digest.str()},
                        {"media_type", v.media_type},
                        {"size", v.size},
                        {"fetched", seconds_of(v.fetched)}});
  }
  nlohmann::json json = {
      {"format", kTagRecordFormat},
      {"variants", std::move(variants)},
      {"fetched", seconds_of(record.fetched)},
      {"revalidated", seconds_of(record.revalidated)},
      {"fresh_until", seconds_of(record.fresh_until)},
  };
  if (record.head_digest) json["head_digest"] = record.head_digest->str();
  return json.dump();
}

std::optional<TagRecord> decode_tag_record(std::string_view key, std::string_view value) {
  const auto json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  try {
    if (json.value("format", 0) != kTagRecordFormat) return std::nullopt;
    TagRecord record{.key = std::string(key)};
    for (const auto& v : json.at("variants")) {
      auto digest = Digest::parse(v.at("digest").get<std::string>());
      if (!digest || !v.at("size").is_number_unsigned()) return std::nullopt;
      record.variants.push_back({.digest = std::move(*digest),
                                 .media_type = v.at("media_type").get<std::string>(),
                                 .size = v.at("size").get<std::uint64_t>(),
                                 .fetched = timestamp_of(v.at("fetched").get<std::int64_t>())});
    }
    if (json.contains("head_digest")) {
      record.head_digest = Digest::parse(json.at("head_digest").get<std::string>());
      if (!record.head_digest) return std::nullopt;
    }
    record.fetched = timestamp_of(json.at("fetched").get<std::int64_t>());
    record.revalidated = timestamp_of(json.at("revalidated").get<std::int64_t>());
    record.fresh_until = timestamp_of(json.at("fresh_until").get<std::int64_t>());
    return record;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // read as absent: the tag is fetched again
  }
}

}  // namespace pt::cache
