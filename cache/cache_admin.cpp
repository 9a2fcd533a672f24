#include "cache/cache_admin.hpp"

#include "cache/cache_key.hpp"
#include "cache/manifest_negotiation.hpp"
#include "common/units.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <deque>
#include <fstream>
#include <set>
#include <tuple>

namespace pt::cache {
namespace {

// Manifests are small; anything bigger is not read (its references stay unknown).
constexpr std::uint64_t kMaxManifestBytes = 4ull << 20;

bool plain_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string iso_time(Timestamp t) {
  const std::time_t seconds = t.time_since_epoch().count();
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "-";
  char text[32];
  return std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) ? text : "-";
}

std::optional<std::string> read_small_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxManifestBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string body(size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size))) return std::nullopt;
  return body;
}

void add_digest(std::vector<Digest>& out, const nlohmann::json& descriptor, const char* field) {
  if (!descriptor.is_object()) return;
  const auto it = descriptor.find(field);
  if (it == descriptor.end() || !it->is_string()) return;
  if (auto digest = Digest::parse(it->get<std::string>())) out.push_back(std::move(*digest));
}

// Text tables: columns padded to their widest cell, the last one left ragged.
// The cached bytes one manifest needs: itself, its blobs, its child manifests (recursively).
struct Footprint {
  std::uint64_t bytes = 0;
  std::size_t blobs_cached = 0;
  std::size_t blobs_referenced = 0;
};

void add_footprint(const CacheSnapshot& snapshot, const CachedRegistry& registry,
                   const CachedRepository& repository, const std::string& digest,
                   std::set<std::string>& seen, Footprint& footprint) {
  if (!seen.insert(digest).second) return;
  const auto refs = snapshot.references.find(digest);
  if (refs == snapshot.references.end()) return;
  for (const auto& blob : refs->second.blobs) {
    ++footprint.blobs_referenced;
    const auto cached = registry.blobs.find(blob.str());
    if (cached == registry.blobs.end() || !seen.insert(blob.str()).second) continue;
    ++footprint.blobs_cached;
    footprint.bytes += cached->second.size;
  }
  for (const auto& child : refs->second.manifests) {
    const auto cached = repository.manifests.find(child.str());
    if (cached == repository.manifests.end() || seen.contains(child.str())) continue;
    footprint.bytes += cached->second.size;
    add_footprint(snapshot, registry, repository, child.str(), seen, footprint);
  }
}

}  // namespace

// ---------------------------------------------------------------- parsing

std::optional<KeyParts> parse_cache_key(std::string_view key) {
  KeyParts parts;
  std::string_view rest;
  if (key.starts_with("blob/")) {
    parts.kind = KeyParts::Kind::blob;
    rest = key.substr(5);
  } else if (key.starts_with("manifest/")) {
    parts.kind = KeyParts::Kind::manifest;
    rest = key.substr(9);
  } else if (key.starts_with("tag/")) {
    parts.kind = KeyParts::Kind::tag;
    rest = key.substr(4);
  } else {
    return std::nullopt;
  }
  const auto slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  parts.registry = std::string(rest.substr(0, slash));
  rest.remove_prefix(slash + 1);
  switch (parts.kind) {
    case KeyParts::Kind::blob:
      parts.digest = Digest::parse(rest);
      if (!parts.digest) return std::nullopt;
      break;
    case KeyParts::Kind::manifest: {
      // A repository name holds no '@'.
      const auto at = rest.find('@');
      if (at == 0 || at == std::string_view::npos) return std::nullopt;
      parts.repository = std::string(rest.substr(0, at));
      parts.digest = Digest::parse(rest.substr(at + 1));
      if (!parts.digest) return std::nullopt;
      break;
    }
    case KeyParts::Kind::tag: {
      // A repository name holds no ':', a tag no '#'; an older release's Accept variant came
      // last, after a '#'.
      const auto colon = rest.find(':');
      if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
      parts.repository = std::string(rest.substr(0, colon));
      rest.remove_prefix(colon + 1);
      const auto hash = rest.find('#');
      if (hash == 0 || rest.empty()) return std::nullopt;
      parts.tag = std::string(rest.substr(0, hash));
      if (hash != std::string_view::npos) parts.variant = std::string(rest.substr(hash + 1));
      break;
    }
  }
  return parts;
}

std::string cache_name(const ImageReference& reference) {
  ImageReference in_cache = reference;
  in_cache.registry = key_registry(reference.registry);
  return in_cache.str();
}

ParsedReference parse_image_reference(std::string_view text) {
  const auto usage = [&](std::string_view why) {
    return ParsedReference{
        .error = fmt::format("bad image reference '{}': {} (expected registry/name, "
                             "registry/name:tag or registry/name@sha256:<hex>, e.g. "
                             "registry-1.docker.io/library/alpine:3.19)",
                             text.substr(0, 300), why)};
  };
  // (Checked first: the messages below quote the text.)
  if (text.empty() || !plain_text(text)) return usage("empty or not printable ASCII");
  // By docker's rule a name without a registry host ("alpine", "library/alpine") is a Docker Hub
  // name. The cache holds many registries and `rm` deletes, so it wants the registry spelt out.
  if (!registry_component(text)) {
    const auto slash = text.find('/');
    if (slash == 0 || slash == std::string_view::npos || slash + 1 == text.size()) {
      return usage("no registry host before the repository name");
    }
    return usage(fmt::format("'{}' is no registry host (Docker Hub images are registry-1.docker.io/...)",
                             text.substr(0, slash)));
  }
  auto parsed = pt::parse_image_reference(text);
  if (!parsed.reference) return usage(parsed.error);
  const auto& reference = *parsed.reference;
  if (!reference.digest.empty() && !Digest::parse(reference.digest)) {
    return usage("only sha256 digests (sha256:<64 lower-case hex>) are cached");
  }
  // Docker pulls name:tag@digest by digest alone; for `rm` either reading would surprise someone.
  if (!reference.tag.empty() && !reference.digest.empty()) return usage("a tag or a digest, not both");
  return parsed;
}

ManifestReferences manifest_references(std::string_view body) {
  ManifestReferences refs;
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return refs;
  if (const auto it = json.find("manifests"); it != json.end() && it->is_array()) {
    for (const auto& child : *it) add_digest(refs.manifests, child, "digest");
    refs.parsed = true;
  }
  if (const auto it = json.find("config"); it != json.end()) {
    add_digest(refs.blobs, *it, "digest");
    refs.parsed = true;
  }
  if (const auto it = json.find("layers"); it != json.end() && it->is_array()) {
    for (const auto& layer : *it) add_digest(refs.blobs, layer, "digest");
    refs.parsed = true;
  }
  if (const auto it = json.find("fsLayers"); it != json.end() && it->is_array()) {  // schema 1
    for (const auto& layer : *it) add_digest(refs.blobs, layer, "blobSum");
    refs.parsed = true;
  }
  return refs;
}

// ---------------------------------------------------------------- snapshot

CacheSnapshot take_snapshot(const Index& index, const BlobStore& blobs) {
  CacheSnapshot snapshot;
  snapshot.total_bytes = index.total_bytes();
  snapshot.files = index.file_count();
  snapshot.entries = index.entry_count();
  std::set<std::string> manifest_files;
  index.for_each_entry([&](const IndexEntry& entry) {
    auto parts = parse_cache_key(entry.key);
    if (!parts) {
      ++snapshot.foreign_keys;
      return true;
    }
    auto& registry = snapshot.registries[parts->registry];
    registry.name = parts->registry;
    if (parts->kind == KeyParts::Kind::blob) {
      registry.blobs.insert_or_assign(
          entry.digest.str(), CachedBlob{.key = entry.key, .digest = entry.digest,
                                         .size = entry.size, .last_access = entry.last_access});
      return true;
    }
    auto& repository = registry.repositories[parts->repository];
    repository.name = parts->repository;
    manifest_files.insert(entry.digest.str());
    if (parts->kind == KeyParts::Kind::tag) {
      repository.tags.push_back({.key = entry.key, .tag = parts->tag, .variant = parts->variant,
                                 .digest = entry.digest, .size = entry.size,
                                 .media_type = entry.media_type, .created = entry.created,
                                 .fresh_until = entry.fresh_until,
                                 .last_access = entry.last_access});
    } else {
      repository.manifests.insert_or_assign(
          entry.digest.str(),
          CachedManifest{.key = entry.key, .digest = entry.digest, .size = entry.size,
                         .media_type = entry.media_type, .created = entry.created,
                         .last_access = entry.last_access});
    }
    return true;
  });
  // Tags: one record each, a row per variant (the manifest it names is an entry of its own).
  index.for_each_tag([&](const TagRecord& record) {
    auto parts = parse_cache_key(record.key);
    if (!parts || parts->kind != KeyParts::Kind::tag) {
      ++snapshot.foreign_keys;
      return true;
    }
    auto& registry = snapshot.registries[parts->registry];
    registry.name = parts->registry;
    auto& repository = registry.repositories[parts->repository];
    repository.name = parts->repository;
    for (const auto& variant : record.variants) {
      // A variant whose manifest is not stored (evicted, or only named by a HEAD so far) is no
      // cached image: not listed, and its record is dropped by gc once no variant is stored.
      const auto manifest = repository.manifests.find(variant.digest.str());
      if (manifest == repository.manifests.end()) continue;
      manifest_files.insert(variant.digest.str());
      repository.tags.push_back({.key = record.key, .tag = parts->tag, .variant = variant.media_type,
                                 .digest = variant.digest, .size = variant.size,
                                 .media_type = variant.media_type, .created = variant.fetched,
                                 .fresh_until = record.fresh_until,
                                 .last_access = manifest->second.last_access});
    }
    return true;
  });
  for (const auto& text : manifest_files) {
    const auto digest = Digest::parse(text);
    const auto body = digest ? read_small_file(blobs.blob_path(*digest)) : std::nullopt;
    snapshot.references[text] = body ? manifest_references(*body) : ManifestReferences{};
  }
  return snapshot;
}

// ---------------------------------------------------------------- ls and stats

std::vector<ImageRow> list_images(const CacheSnapshot& snapshot, std::string_view filter) {
  std::vector<ImageRow> rows;
  const auto make_row = [&](const CachedRegistry& registry, const CachedRepository& repository,
                            std::string tag, const Digest& digest, std::uint64_t size,
                            const std::string& media_type, Timestamp last_access) {
    Footprint footprint{.bytes = size};
    std::set<std::string> seen;
    add_footprint(snapshot, registry, repository, digest.str(), seen, footprint);
    return ImageRow{.registry = registry.name, .repository = repository.name,
                    .tag = std::move(tag), .digest = digest, .media_type = media_type,
                    .manifest_size = size, .size = footprint.bytes,
                    .blobs_cached = footprint.blobs_cached,
                    .blobs_referenced = footprint.blobs_referenced, .last_access = last_access};
  };
  for (const auto& [registry_name, registry] : snapshot.registries) {
    for (const auto& [name, repository] : registry.repositories) {
      if (!(registry_name + "/" + name).starts_with(filter)) continue;
      // One row per tag: the variant a client accepting everything gets (the index, when there
      // is one); the other variants are its children or older answers, not images of their own.
      std::map<std::string, const CachedTag*> shown;
      std::set<std::string> tagged_digests;
      for (const auto& tag : repository.tags) {
        tagged_digests.insert(tag.digest.str());
        auto& best = shown[tag.tag];
        const bool index = is_index_media_type(tag.media_type);
        if (!best || (index && !is_index_media_type(best->media_type)) ||
            (index == is_index_media_type(best->media_type) && tag.created > best->created)) {
          best = &tag;
        }
      }
      for (const auto& [name_of_tag, tag] : shown) {
        rows.push_back(make_row(registry, repository, name_of_tag, tag->digest, tag->size, tag->media_type,
                                tag->last_access));
      }
      for (const auto& [digest, manifest] : repository.manifests) {
        if (tagged_digests.contains(digest)) continue;
        rows.push_back(make_row(registry, repository, "", manifest.digest, manifest.size,
                                manifest.media_type, manifest.last_access));
      }
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ImageRow& a, const ImageRow& b) {
    return std::tie(a.registry, a.repository) < std::tie(b.registry, b.repository) ||
           (std::tie(a.registry, a.repository) == std::tie(b.registry, b.repository) &&
            !a.tag.empty() && (b.tag.empty() || a.tag < b.tag));
  });
  return rows;
}

CacheStats cache_stats(const CacheSnapshot& snapshot) {
  CacheStats stats{.total_bytes = snapshot.total_bytes, .files = snapshot.files,
                   .entries = snapshot.entries};
  for (const auto& [name, registry] : snapshot.registries) {
    RegistryStats out{.registry = name};
    std::set<std::string> referenced;
    std::map<std::string, std::uint64_t> manifest_files;
    for (const auto& [repository_name, repository] : registry.repositories) {
      if (!repository.tags.empty() || !repository.manifests.empty()) ++out.repositories;
      std::set<std::string> tags;
      for (const auto& tag : repository.tags) {
        tags.insert(tag.tag);
        manifest_files[tag.digest.str()] = tag.size;
      }
      out.tags += tags.size();
      out.manifests += repository.manifests.size();
      for (const auto& [digest, manifest] : repository.manifests) {
        manifest_files[digest] = manifest.size;
      }
    }
    for (const auto& [digest, size] : manifest_files) {
      out.manifest_bytes += size;
      if (const auto refs = snapshot.references.find(digest); refs != snapshot.references.end()) {
        for (const auto& blob : refs->second.blobs) referenced.insert(blob.str());
      }
    }
    for (const auto& [digest, blob] : registry.blobs) {
      ++out.blobs;
      out.blob_bytes += blob.size;
      if (!referenced.contains(digest)) {
        ++out.unreferenced_blobs;
        out.unreferenced_bytes += blob.size;
      }
    }
    stats.registries.push_back(out);
  }
  return stats;
}

nlohmann::json to_json(const std::vector<ImageRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    out.push_back({
        {"registry", row.registry},
        {"repository", row.repository},
        {"tag", row.tag.empty() ? nlohmann::json() : nlohmann::json(row.tag)},
        {"digest", row.digest.str()},
        {"media_type", row.media_type},
        {"manifest_size", row.manifest_size},
        {"size", row.size},
        {"blobs_cached", row.blobs_cached},
        {"blobs_referenced", row.blobs_referenced},
        {"last_access", iso_time(row.last_access)},
    });
  }
  return out;
}

nlohmann::json to_json(const CacheStats& stats) {
  nlohmann::json registries = nlohmann::json::array();
  for (const auto& r : stats.registries) {
    registries.push_back({
        {"registry", r.registry},
        {"repositories", r.repositories},
        {"tags", r.tags},
        {"manifests", r.manifests},
        {"manifest_bytes", r.manifest_bytes},
        {"blobs", r.blobs},
        {"blob_bytes", r.blob_bytes},
        {"unreferenced_blobs", r.unreferenced_blobs},
        {"unreferenced_bytes", r.unreferenced_bytes},
    });
  }
  return {{"total_bytes", stats.total_bytes},
          {"files", stats.files},
          {"entries", stats.entries},
          {"registries", std::move(registries)}};
}

CachedTags recent_tags(const Index& index, std::size_t limit) {
  CachedTags out;
  const auto everything = AcceptedTypes::parse("");
  index.for_each_tag([&](const TagRecord& record) {
    const auto parts = parse_cache_key(record.key);
    const auto chosen = choose_variant(record, everything);
    if (!parts || !chosen) return true;
    ++out.total;
    out.recent.push_back({.name = fmt::format("{}/{}:{}", parts->registry, parts->repository, parts->tag),
                          .digest = chosen->digest,
                          .media_type = chosen->media_type,
                          .variants = record.variants.size(),
                          .updated = std::max(record.fetched, record.revalidated)});
    // Keeps memory bounded for a big cache: the newest `limit` survive each trim.
    if (out.recent.size() >= 4 * limit + 64) {
      std::sort(out.recent.begin(), out.recent.end(),
                [](const CachedTagSummary& a, const CachedTagSummary& b) { return a.updated > b.updated; });
      out.recent.erase(out.recent.begin() + static_cast<std::ptrdiff_t>(limit), out.recent.end());
    }
    return true;
  });
  std::sort(out.recent.begin(), out.recent.end(),
            [](const CachedTagSummary& a, const CachedTagSummary& b) { return a.updated > b.updated; });
  if (out.recent.size() > limit) {
    out.recent.erase(out.recent.begin() + static_cast<std::ptrdiff_t>(limit), out.recent.end());
  }
  return out;
}

// ---------------------------------------------------------------- rm

RemovalPlan plan_removal(const CacheSnapshot& snapshot, const ImageReference& reference,
                         bool tag_only) {
  RemovalPlan plan;
  // The reference in the snapshot's terms: the registry as in cache keys, a sha256 Digest.
  const auto name = cache_name(reference);
  const std::optional<std::string> wanted_tag =
      reference.tag.empty() ? std::nullopt : std::optional<std::string>(reference.tag);
  std::optional<Digest> wanted_digest;
  if (!reference.digest.empty()) {
    wanted_digest = Digest::parse(reference.digest);
    if (!wanted_digest) {
      plan.error = fmt::format("nothing cached for {} (only sha256 digests are cached)", name);
      return plan;
    }
  }
  const auto registry_name = key_registry(reference.registry);
  const auto registry_it = snapshot.registries.find(registry_name);
  if (registry_it == snapshot.registries.end()) {
    plan.error = fmt::format("nothing cached for registry {}", registry_name);
    return plan;
  }
  const auto& registry = registry_it->second;
  const auto only_blob = [&]() {
    // name@digest where the digest is a blob of the registry, not a manifest of the repository.
    if (!wanted_digest) return false;
    const auto blob = registry.blobs.find(wanted_digest->str());
    if (blob == registry.blobs.end()) return false;
    plan.keys.push_back(blob->second.key);
    plan.blobs = 1;
    return true;
  };
  const auto repository_it = registry.repositories.find(reference.repository);
  if (repository_it == registry.repositories.end()) {
    if (!only_blob()) plan.error = fmt::format("nothing cached for {}", name);
    return plan;
  }
  const auto& repository = repository_it->second;
  const auto& references = snapshot.references;
  const auto refs_of = [&](const std::string& digest) -> const ManifestReferences* {
    const auto it = references.find(digest);
    return it == references.end() ? nullptr : &it->second;
  };

  std::set<std::string> removed_tags;       // keys
  std::set<std::string> removed_manifests;  // digests of this repository's manifest entries
  std::deque<std::string> candidates;       // manifest digests that may go
  for (const auto& tag : repository.tags) {
    const bool named = wanted_tag      ? tag.tag == *wanted_tag
                       : wanted_digest ? tag.digest == *wanted_digest
                                       : true;
    if (!named) continue;
    removed_tags.insert(tag.key);
    candidates.push_back(tag.digest.str());
  }
  const bool whole_repository = !wanted_tag && !wanted_digest;
  if (wanted_digest) candidates.push_back(wanted_digest->str());
  if (whole_repository) {
    for (const auto& [digest, manifest] : repository.manifests) candidates.push_back(digest);
  }
  if (wanted_tag && removed_tags.empty()) {
    plan.error = fmt::format("nothing cached for {}", name);
    return plan;
  }
  if (wanted_digest && removed_tags.empty() &&
      !repository.manifests.contains(wanted_digest->str())) {
    if (!only_blob()) plan.error = fmt::format("nothing cached for {}", name);
    return plan;
  }

  // A manifest stays while a remaining tag of the repository or a remaining index in it uses it.
  const auto still_used = [&](const std::string& digest) {
    for (const auto& tag : repository.tags) {
      if (tag.digest.str() == digest && !removed_tags.contains(tag.key)) return true;
    }
    for (const auto& [other, manifest] : repository.manifests) {
      if (other == digest || removed_manifests.contains(other)) continue;
      const auto* refs = refs_of(other);
      if (!refs) continue;
      for (const auto& child : refs->manifests) {
        if (child.str() == digest) return true;
      }
    }
    return false;
  };
  std::set<std::string> gone;  // manifest contents no longer used by this repository
  while (!tag_only && !candidates.empty()) {
    const auto digest = std::move(candidates.front());
    candidates.pop_front();
    if (gone.contains(digest)) continue;
    const bool named = whole_repository || (wanted_digest && wanted_digest->str() == digest);
    if (!named && still_used(digest)) continue;
    gone.insert(digest);
    if (repository.manifests.contains(digest)) removed_manifests.insert(digest);
    if (const auto* refs = refs_of(digest)) {
      for (const auto& child : refs->manifests) candidates.push_back(child.str());
    }
  }

  // Blobs go when no remaining manifest of the registry (any repository) refers to them.
  std::set<std::string> blob_candidates;
  for (const auto& digest : gone) {
    if (const auto* refs = refs_of(digest)) {
      for (const auto& blob : refs->blobs) blob_candidates.insert(blob.str());
    }
  }
  std::set<std::string> still_referenced;
  const auto keep_refs_of = [&](const std::string& digest) {
    if (const auto* refs = refs_of(digest)) {
      for (const auto& blob : refs->blobs) still_referenced.insert(blob.str());
    }
  };
  for (const auto& [name, other] : registry.repositories) {
    const bool same = name == repository.name;
    for (const auto& tag : other.tags) {
      if (!(same && removed_tags.contains(tag.key))) keep_refs_of(tag.digest.str());
    }
    for (const auto& [digest, manifest] : other.manifests) {
      if (!(same && removed_manifests.contains(digest))) keep_refs_of(digest);
    }
  }

  for (const auto& key : removed_tags) plan.keys.push_back(key);
  plan.tags = removed_tags.size();
  for (const auto& digest : removed_manifests) {
    plan.keys.push_back(repository.manifests.at(digest).key);
  }
  plan.manifests = removed_manifests.size();
  for (const auto& blob : blob_candidates) {
    if (still_referenced.contains(blob)) continue;
    if (const auto cached = registry.blobs.find(blob); cached != registry.blobs.end()) {
      plan.keys.push_back(cached->second.key);
      ++plan.blobs;
    }
  }
  return plan;
}

RemovalResult execute_removal(CacheStore& store, const RemovalPlan& plan) {
  RemovalResult result;
  for (const auto& key : plan.keys) {
    const auto entry = store.index().get(key);
    const auto record = entry ? store.index().file(entry->digest) : std::nullopt;
    const auto change = store.remove_entry(key);
    if (change.error) {
      result.errors.push_back(fmt::format("{}: {}", key, change.error.message()));
      continue;
    }
    if (entry) ++result.entries;
    if (change.released_file) {
      ++result.files;
      if (record) result.bytes += record->size;
    }
  }
  return result;
}

nlohmann::json to_json(const ImageReference& reference, const RemovalPlan& plan,
                       const RemovalResult* result) {
  nlohmann::json out = {{"reference", cache_name(reference)},
                        {"tags", plan.tags},
                        {"manifests", plan.manifests},
                        {"blobs", plan.blobs},
                        {"keys", plan.keys}};
  if (!plan.error.empty()) out["error"] = plan.error;
  if (result) {
    out["removed_entries"] = result->entries;
    out["removed_files"] = result->files;
    out["freed_bytes"] = result->bytes;
    if (!result->errors.empty()) out["errors"] = result->errors;
  }
  return out;
}

// ---------------------------------------------------------------- gc

GcResult collect_garbage(CacheStore& store, std::uint64_t max_bytes) {
  GcResult result{.bytes_before = store.index().total_bytes(), .max_bytes = max_bytes};
  result.reconciled = store.reconcile();
  result.evicted = store.evict_to_size(max_bytes);
  result.bytes_after = store.index().total_bytes();
  // Tag records none of whose manifests is stored any more name nothing the cache can serve.
  std::vector<std::string> dangling;
  store.index().for_each_tag([&](const TagRecord& record) {
    const auto parts = parse_cache_key(record.key);
    const bool stored = parts && std::any_of(record.variants.begin(), record.variants.end(), [&](const TagVariant& v) {
      return store.index().get(manifest_key(parts->registry, parts->repository, v.digest)).has_value();
    });
    if (!stored) dangling.push_back(record.key);
    return true;
  });
  for (const auto& key : dangling) {
    if (!store.remove_entry(key).error) ++result.dangling_tags;
  }
  return result;
}

nlohmann::json to_json(const GcResult& result) {
  return {{"max_bytes", result.max_bytes},
          {"bytes_before", result.bytes_before},
          {"bytes_after", result.bytes_after},
          {"evicted_files", result.evicted.files},
          {"evicted_entries", result.evicted.entries},
          {"evicted_bytes", result.evicted.bytes},
          {"orphan_files_removed", result.reconciled.unindexed_files + result.reconciled.junk_files},
          {"missing_files_dropped", result.reconciled.missing_files},
          {"dangling_entries_dropped", result.reconciled.dangling_entries},
          {"dangling_tags_dropped", result.dangling_tags}};
}

}  // namespace pt::cache
