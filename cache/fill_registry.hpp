#pragma once
// Single-flight for fills: the first client to miss on a key becomes the writer of a new Fill;
// clients missing on the same key meanwhile attach to it as readers, so upstream is asked once.
// A fill leaves the registry when it is settled: failed, abandoned, or committed to the index
// (CacheStore::commit_fill), after which new clients find it in the index instead.
// Thread-safe; may outlive or be outlived by its fills.
#include "cache/blob_store.hpp"
#include "cache/fill.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

namespace pt::cache {

class FillRegistry {
public:
  explicit FillRegistry(const BlobStore& store);

  struct Attachment {
    std::shared_ptr<Fill> fill;
    std::optional<FillWriter> writer;  // set when the caller must download
  };

  // Joins the fill in progress for `key` or starts one. Fails (ec set, no fill) only if no
  // temporary file can be created (disk full, out of descriptors): serve uncached then.
  Attachment find_or_start(const std::string& key, std::error_code& ec);

  std::shared_ptr<Fill> find(const std::string& key) const;
  std::size_t active_fills() const;

private:
  struct Registry {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<Fill>> fills;
  };
  const BlobStore& store_;
  std::shared_ptr<Registry> registry_ = std::make_shared<Registry>();
};

}  // namespace pt::cache
