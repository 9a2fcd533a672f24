#include "cache/cache_export.hpp"

#include "cache/cache_key.hpp"
#include "cache/manifest_negotiation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace pt::cache {
namespace {

struct StoredManifest {
  IndexEntry entry;
  std::string body;
};

// A stored manifest, read whole and checked against its digest; `why` says what is wrong.
std::optional<StoredManifest> read_manifest(const Index& index, const BlobStore& blobs, const std::string& key,
                                            std::string& why) {
  auto entry = index.get(key);
  if (!entry) {
    why = "not cached";
    return std::nullopt;
  }
  if (entry->size > kMaxManifestBytes) {
    why = fmt::format("{} bytes, more than a manifest may be", entry->size);
    return std::nullopt;
  }
  std::error_code ec;
  auto reader = blobs.open(entry->digest, ec);
  if (!reader) {
    why = fmt::format("its file is gone ({})", ec.message());
    return std::nullopt;
  }
  std::string body(static_cast<std::size_t>(reader->size()), '\0');
  if (reader->size() != entry->size || reader->read_at(0, body, ec) != body.size() || ec) {
    why = "its file cannot be read whole";
    return std::nullopt;
  }
  Sha256 hash;
  hash.update(body);
  if (hash.finish() != entry->digest) {
    why = "its file is damaged (does not match its digest)";
    return std::nullopt;
  }
  return StoredManifest{std::move(*entry), std::move(body)};
}

bool blob_cached(const Index& index, const BlobStore& blobs, const Digest& digest) {
  return index.file(digest) && blobs.contains(digest);
}

// The blobs of `manifest` that are not cached.
std::vector<Digest> missing_blobs(const Index& index, const BlobStore& blobs, const ManifestSummary& manifest) {
  std::vector<Digest> missing;
  for (const auto& blob : manifest.blobs) {
    if (!blob_cached(index, blobs, blob)) missing.push_back(blob);
  }
  return missing;
}

std::string media_type_of(const StoredManifest& stored, const ManifestSummary& summary) {
  return summary.media_type.empty() ? stored.entry.media_type : summary.media_type;
}

void add_unique(std::vector<Digest>& list, const Digest& digest) {
  for (const auto& known : list) {
    if (known == digest) return;
  }
  list.push_back(digest);
}

// One image, or the reason it cannot be exported.
std::string plan_image(const Index& index, const BlobStore& blobs, ExportedImage& image) {
  const auto& reference = image.reference;
  const auto registry = key_registry(reference.registry);
  std::optional<Digest> top;
  if (!reference.tag.empty()) {
    const auto key = fmt::format("tag/{}/{}:{}", registry, reference.repository, reference.tag);
    const auto record = index.get_tag(key);
    if (!record) return "not cached";
    const auto variant = choose_variant(*record, AcceptedTypes::parse(""));
    if (!variant) return "its tag record names no manifest";
    top = variant->digest;
  } else if (!reference.digest.empty()) {
    top = Digest::parse(reference.digest);
  }
  if (!top) return "a tag or a sha256 digest is needed";

  std::string why;
  const auto stored = read_manifest(index, blobs, manifest_key(registry, reference.repository, *top), why);
  if (!stored) return fmt::format("manifest {}: {}", top->str(), why);
  const auto summary = summarise_manifest(stored->body);
  if (!summary) return fmt::format("manifest {} is no OCI or Docker schema 2 manifest or index", top->str());
  image.top = OciDescriptor{.media_type = media_type_of(*stored, *summary), .digest = *top, .size = stored->entry.size};
  image.manifests.push_back(*top);

  if (!summary->is_index) {
    const auto missing = missing_blobs(index, blobs, *summary);
    if (!missing.empty()) {
      return fmt::format("{} of its {} blobs are not cached (first: {})", missing.size(), summary->blobs.size(),
                         missing.front().str());
    }
    for (const auto& blob : summary->blobs) add_unique(image.blobs, blob);
    return {};
  }

  for (const auto& child : summary->children) {
    const auto platform = child.platform.empty() ? std::string("(no platform)") : child.platform;
    const auto child_stored =
        read_manifest(index, blobs, manifest_key(registry, reference.repository, child.digest), why);
    if (!child_stored) {
      image.skipped.push_back(fmt::format("{} {}: manifest {}", platform, child.digest.str(), why));
      continue;
    }
    const auto child_summary = summarise_manifest(child_stored->body);
    if (!child_summary || child_summary->is_index) {
      image.skipped.push_back(fmt::format("{} {}: not an image manifest", platform, child.digest.str()));
      continue;
    }
    const auto missing = missing_blobs(index, blobs, *child_summary);
    if (!missing.empty()) {
      image.skipped.push_back(fmt::format("{} {}: {} of {} blobs not cached", platform, child.digest.str(),
                                          missing.size(), child_summary->blobs.size()));
      continue;
    }
    add_unique(image.manifests, child.digest);
    for (const auto& blob : child_summary->blobs) add_unique(image.blobs, blob);
  }
  if (image.manifests.size() == 1) {
    return fmt::format("no platform of its index {} is cached completely", top->str());
  }
  return {};
}

}  // namespace

ExportPlan plan_export(const Index& index, const BlobStore& blobs, const std::vector<ImageReference>& references) {
  ExportPlan plan;
  for (const auto& reference : references) {
    ExportedImage image{.reference = reference};
    if (auto why = plan_image(index, blobs, image); !why.empty()) {
      ImageReference in_cache = reference;
      in_cache.registry = key_registry(reference.registry);
      plan.errors.push_back(fmt::format("{}: {}", in_cache.str(), why));
      continue;
    }
    plan.images.push_back(std::move(image));
  }
  return plan;
}

ExportResult write_export(const ExportPlan& plan, const BlobStore& blobs, const TarSink& sink) {
  ExportResult result;
  TarWriter tar(sink);
  const auto failed = [&](std::string what, std::error_code error) {
    result.error = error ? fmt::format("{}: {}", what, error.message()) : std::move(what);
    return result;
  };
  std::vector<OciImage> images;
  std::vector<Digest> files;
  for (const auto& image : plan.images) {
    images.push_back({.descriptor = *image.top, .name = image.reference.str()});
    for (const auto& digest : image.manifests) add_unique(files, digest);
    for (const auto& digest : image.blobs) add_unique(files, digest);
  }
  if (auto error = tar.add_file(kOciLayoutFile, oci_layout_json())) return failed("cannot write oci-layout", error);
  if (auto error = tar.add_file(kOciIndexFile, oci_index_json(images))) return failed("cannot write index.json", error);
  if (auto error = tar.add_directory("blobs")) return failed("cannot write blobs/", error);
  if (auto error = tar.add_directory(kOciBlobsDir)) return failed("cannot write blobs/sha256/", error);

  std::vector<char> buffer(1 << 20);
  for (const auto& digest : files) {
    std::error_code ec;
    auto reader = blobs.open(digest, ec);
    if (!reader) return failed(fmt::format("cannot open the cached file of {}", digest.str()), ec);
    const auto path = oci_blob_path(digest);
    if (auto error = tar.begin_file(path, reader->size())) return failed("cannot write " + path, error);
    Sha256 hash;
    std::uint64_t offset = 0;
    while (offset < reader->size()) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), reader->size() - offset));
      const auto n = reader->read_at(offset, std::span(buffer.data(), want), ec);
      if (ec) return failed(fmt::format("cannot read the cached file of {}", digest.str()), ec);
      if (n == 0) return failed(fmt::format("the cached file of {} shrank while it was read", digest.str()), {});
      const std::span<const char> chunk(buffer.data(), n);
      hash.update(chunk);
      if (auto error = tar.write(chunk)) return failed("cannot write " + path, error);
      offset += n;
    }
    if (hash.finish() != digest) {
      return failed(fmt::format("the cached file of {} is damaged (its bytes do not match the digest); pull the "
                                "image again, then export it",
                                digest.str()),
                    {});
    }
    if (auto error = tar.end_file()) return failed("cannot write " + path, error);
    ++result.files;
  }
  if (auto error = tar.finish()) return failed("cannot end the archive", error);
  result.bytes = tar.bytes_written();
  return result;
}

}  // namespace pt::cache
