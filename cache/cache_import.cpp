#include "cache/cache_import.hpp"

#include "cache/cache_admin.hpp"
#include "cache/cache_key.hpp"
#include "cache/file_io.hpp"
#include "cache/manifest_negotiation.hpp"
#include "cache/unique_fd.hpp"

#include <fcntl.h>

#include <fmt/format.h>

#include <set>
#include <vector>

namespace pt::cache {
namespace {

using tar_detail::printable;

constexpr std::size_t kMaxLayoutFileBytes = 4096;

// Reads an entry's whole content into memory, when it is at most `limit` bytes.
std::optional<std::string> read_whole(TarReader& tar, const TarEntry& entry, std::size_t limit, std::string& error) {
  if (entry.size > limit) {
    error = fmt::format("{}: {} bytes, more than the limit of {}", entry.path, entry.size, limit);
    return std::nullopt;
  }
  std::string content(static_cast<std::size_t>(entry.size), '\0');
  std::size_t got = 0;
  while (got < content.size()) {
    const auto n = tar.read(std::span(content).subspan(got));
    if (n == 0) break;
    got += n;
  }
  if (got != content.size()) {
    error = tar.failed() ? tar.error() : fmt::format("{}: cannot be read whole", entry.path);
    return std::nullopt;
  }
  return content;
}

// A staged file's bytes (a manifest: small).
std::optional<std::string> read_staged(const BlobWriter& writer, std::size_t limit) {
  if (writer.bytes_written() > limit) return std::nullopt;
  UniqueFd fd(::open(writer.temp_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string body(static_cast<std::size_t>(writer.bytes_written()), '\0');
  std::error_code ec;
  if (read_at(fd.get(), 0, body, ec) != body.size() || ec) return std::nullopt;
  return body;
}

std::string default_media_type(bool is_index) {
  return std::string(is_index ? kOciIndex : kOciManifest);
}

// The checks on one index.json image; fills `image` or says why the archive is refused.
std::string check_image(const StagedImport& staged, const OciIndexEntry& entry, std::size_t position,
                        const ImportLimits& limits, ImportedImage& image) {
  const auto where = fmt::format("index.json: manifests[{}] ({})", position, entry.descriptor.digest.str());
  const std::string& name = entry.containerd_name.empty() ? entry.ref_name : entry.containerd_name;
  if (name.empty()) {
    return fmt::format("{} has no name ({} or {}): import needs its registry, repository and tag", where,
                       kContainerdNameAnnotation, kRefNameAnnotation);
  }
  auto parsed = parse_image_reference(name);
  if (!parsed.reference) return fmt::format("{}: {}", where, parsed.error);
  image.reference = std::move(*parsed.reference);
  image.name = cache_name(image.reference);
  if (!image.reference.digest.empty() && image.reference.digest != entry.descriptor.digest.str()) {
    return fmt::format("{}: its name {} names another digest", where, image.name);
  }
  const auto& descriptor = entry.descriptor;
  const auto where_name = fmt::format("{} ({})", image.name, descriptor.digest.str());

  // Reads and checks one manifest the archive holds: size as described, parsed, media type.
  const auto load = [&](const OciDescriptor& wanted, const std::string& what,
                        std::vector<OciDescriptor>& out) -> std::pair<std::optional<ManifestSummary>, std::string> {
    const auto found = staged.files.find(wanted.digest.str());
    if (found == staged.files.end()) return {std::nullopt, {}};
    if (found->second.bytes_written() != wanted.size) {
      return {std::nullopt, fmt::format("{}: {} is {} bytes, its descriptor says {}", image.name, what,
                                        found->second.bytes_written(), wanted.size)};
    }
    const auto body = read_staged(found->second, limits.max_manifest_bytes);
    if (!body) {
      return {std::nullopt, fmt::format("{}: {} cannot be read, or is over {} bytes", image.name, what,
                                        limits.max_manifest_bytes)};
    }
    auto summary = summarise_manifest(*body);
    if (!summary) {
      return {std::nullopt, fmt::format("{}: {} is no OCI or Docker schema 2 manifest or index", image.name, what)};
    }
    if (!summary->media_type.empty() && !wanted.media_type.empty() && summary->media_type != wanted.media_type) {
      return {std::nullopt, fmt::format("{}: {} calls itself {} but its descriptor says {}", image.name, what,
                                        summary->media_type, wanted.media_type)};
    }
    if (!summary->is_index || out.empty()) {  // (an index inside an index is refused below)
      out.push_back(wanted);
      out.back().media_type = !summary->media_type.empty() ? summary->media_type
                              : !wanted.media_type.empty() ? wanted.media_type
                                                           : default_media_type(summary->is_index);
    }
    return {std::move(summary), {}};
  };
  // Every blob of an image manifest must be in the archive: a half image would be served as whole.
  const auto check_blobs = [&](const ManifestSummary& manifest, const std::string& what) -> std::string {
    for (const auto& blob : manifest.blobs) {
      if (!staged.files.contains(blob.str())) {
        return fmt::format("{}: {} refers to blob {}, which the archive does not hold", image.name, what, blob.str());
      }
      bool known = false;
      for (const auto& listed : image.blobs) known = known || listed == blob;
      if (!known) image.blobs.push_back(blob);
    }
    return {};
  };

  auto [top, why] = load(descriptor, "manifest " + descriptor.digest.str(), image.manifests);
  if (!top) return why.empty() ? fmt::format("{}: the manifest is not in the archive", where_name) : why;
  if (!top->is_index) return check_blobs(*top, "manifest " + descriptor.digest.str());

  for (const auto& child : top->children) {
    const auto platform = child.platform.empty() ? std::string("(no platform)") : child.platform;
    const auto what = fmt::format("platform {} manifest {}", platform, child.digest.str());
    auto [summary, child_why] = load(child, what, image.manifests);
    if (!summary) {
      if (!child_why.empty()) return child_why;
      image.notes.push_back(fmt::format("{}: {} is not in the archive (not cached where it was exported); "
                                        "a proxy fetches it when it can reach the registry",
                                        image.name, what));
      continue;
    }
    if (summary->is_index) return fmt::format("{}: {} is an index inside an index (not supported)", image.name, what);
    if (auto missing = check_blobs(*summary, what); !missing.empty()) return missing;
  }
  if (image.manifests.size() == 1) {
    return fmt::format("{}: the archive holds none of its index's platform manifests", where_name);
  }
  return {};
}

}  // namespace

StageResult stage_import(const BlobStore& blobs, const TarSource& source, const ImportLimits& limits) {
  const auto refused = [](std::string why) { return StageResult{.staged = std::nullopt, .error = std::move(why)}; };
  StagedImport staged;
  TarReader tar(source, limits.tar);
  std::optional<std::string> layout;
  std::optional<std::string> index;
  std::set<std::string> seen;
  std::vector<char> buffer(1 << 20);
  while (auto entry = tar.next()) {
    if (!seen.insert(entry->path).second) return refused(fmt::format("{} appears twice in the archive", printable(entry->path)));
    if (entry->type == TarEntry::Type::directory) continue;
    std::string error;
    if (entry->path == kOciLayoutFile) {
      layout = read_whole(tar, *entry, kMaxLayoutFileBytes, error);
      if (!layout) return refused(error);
    } else if (entry->path == kOciIndexFile) {
      index = read_whole(tar, *entry, limits.max_index_bytes, error);
      if (!index) return refused(error);
    } else if (const auto digest = digest_of_blob_path(entry->path)) {
      staged.bytes += entry->size;
      if (staged.bytes > limits.max_total_bytes) {
        return refused(fmt::format("the archive's blobs exceed the cache's size cap of {} bytes", limits.max_total_bytes));
      }
      std::error_code ec;
      auto writer = blobs.begin_write(ec);
      if (!writer) return refused(fmt::format("cannot create a temporary file in the cache: {}", ec.message()));
      std::uint64_t got = 0;
      while (const auto n = tar.read(buffer)) {
        if (auto write_error = writer->write(std::span(buffer.data(), n))) {
          return refused(fmt::format("cannot stage {}: {}", entry->path, write_error.message()));
        }
        got += n;
      }
      if (tar.failed()) return refused(tar.error());
      if (got != entry->size) return refused(fmt::format("{}: cannot be read whole", entry->path));
      const auto& actual = writer->finish();
      if (actual != *digest) {
        return refused(fmt::format("{}: its content does not match its digest (the bytes hash to {}): damaged or "
                                   "tampered with",
                                   entry->path, actual.str()));
      }
      staged.files.emplace(digest->str(), std::move(*writer));
    } else if (entry->path.starts_with("blobs/")) {
      return refused(fmt::format("{}: not a blob name (blobs/sha256/<64 lower-case hex>; only sha256 is accepted)",
                                 printable(entry->path)));
    } else {
      staged.notes.push_back(fmt::format("{}: not part of an OCI image layout; ignored", printable(entry->path)));
    }
  }
  if (tar.failed()) return refused(tar.error());
  if (!layout) return refused("not an OCI image layout: the archive has no oci-layout file");
  if (auto checked = parse_oci_layout(*layout); !checked) return refused(checked.error);
  if (!index) return refused("not an OCI image layout: the archive has no index.json");
  auto entries = parse_oci_index(*index, limits.max_images);
  if (!entries) return refused(entries.error);
  if (entries->empty()) return refused("index.json lists no image");

  std::set<std::string> names;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    ImportedImage image;
    if (auto why = check_image(staged, (*entries)[i], i, limits, image); !why.empty()) return refused(why);
    if (!names.insert(image.name).second) return refused(fmt::format("index.json names {} twice", image.name));
    staged.images.push_back(std::move(image));
  }
  return {.staged = std::move(staged), .error = {}};
}

ImportResult commit_import(CacheStore& store, StagedImport& staged, Timestamp now) {
  ImportResult result;
  std::vector<std::string> added;  // keys new to the index, for the way back
  std::vector<std::pair<std::string, std::optional<TagRecord>>> tags_before;
  const auto roll_back = [&](std::string why) {
    for (auto key = added.rbegin(); key != added.rend(); ++key) store.remove_entry(*key);
    for (auto tag = tags_before.rbegin(); tag != tags_before.rend(); ++tag) {
      store.index().update_tag(tag->first, [&](std::optional<TagRecord>& record) { record = tag->second; });
    }
    result.error = std::move(why);
    result.entries_added = result.files_written = result.tags = 0;
    result.bytes_written = 0;
    return result;
  };
  // One index entry for a staged file: the first entry of a file publishes it, others alias it.
  const auto put = [&](const IndexEntry& entry) -> std::error_code {
    if (const auto existing = store.index().get(entry.key); existing && existing->digest == entry.digest) {
      ++result.entries_present;
      return {};
    }
    std::error_code error;
    const auto staged_file = staged.files.find(entry.digest.str());
    if (store.index().file(entry.digest) && store.blobs().contains(entry.digest)) {
      error = store.add_alias(entry);
    } else if (staged_file != staged.files.end() && !staged_file->second.published()) {
      error = store.commit_file(staged_file->second, entry);
      if (!error) {
        ++result.files_written;
        result.bytes_written += entry.size;
      }
    } else {
      error = std::make_error_code(std::errc::no_such_file_or_directory);
    }
    if (!error) {
      added.push_back(entry.key);
      ++result.entries_added;
    }
    return error;
  };

  for (const auto& image : staged.images) {
    const auto registry = key_registry(image.reference.registry);
    for (const auto& blob : image.blobs) {
      const IndexEntry entry{.key = fmt::format("blob/{}/{}", registry, blob.str()),
                             .digest = blob,
                             .size = staged.files.at(blob.str()).bytes_written(),
                             .media_type = "application/octet-stream",
                             .created = now,
                             .fresh_until = kForever};
      if (auto error = put(entry)) return roll_back(fmt::format("cannot index {}: {}", entry.key, error.message()));
    }
    for (const auto& manifest : image.manifests) {
      const IndexEntry entry{.key = manifest_key(registry, image.reference.repository, manifest.digest),
                             .digest = manifest.digest,
                             .size = manifest.size,
                             .media_type = manifest.media_type,
                             .created = now,
                             .fresh_until = kForever};
      if (auto error = put(entry)) return roll_back(fmt::format("cannot index {}: {}", entry.key, error.message()));
    }
    if (image.reference.tag.empty()) continue;
    const auto key = fmt::format("tag/{}/{}:{}", registry, image.reference.repository, image.reference.tag);
    auto before = store.tag(key);
    // The archive's manifest is what the tag is now; variants of another manifest are out of date.
    bool known = false;
    if (before) {
      for (const auto& variant : before->variants) known = known || variant.digest == image.top().digest;
    }
    tags_before.emplace_back(key, std::move(before));
    const TagVariant variant{.digest = image.top().digest, .media_type = image.top().media_type, .size = image.top().size,
                             .fetched = now};
    if (auto error = store.record_tag_variant(key, variant, now, !known, image.top().digest)) {
      return roll_back(fmt::format("cannot record the tag {}: {}", image.name, error.message()));
    }
    ++result.tags;
  }
  // Files staged but used by no image (or already cached) are deleted with their writers.
  staged.files.clear();
  if (store.index().total_bytes() > store.settings().max_bytes) store.evict_to_size();
  return result;
}

}  // namespace pt::cache
