#include "cache/fill_registry.hpp"

#include <fcntl.h>

namespace pt::cache {

FillRegistry::FillRegistry(const BlobStore& store) : store_(store) {}

FillRegistry::Attachment FillRegistry::find_or_start(const std::string& key,
                                                     std::error_code& ec) {
  ec.clear();
  std::lock_guard lock(registry_->mutex);
  if (auto found = registry_->fills.find(key); found != registry_->fills.end()) {
    return {found->second, std::nullopt};
  }
  auto blob = store_.begin_write(ec);
  if (!blob) return {};
  UniqueFd read_fd(::open(blob->temp_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!read_fd) {
    ec = {errno, std::system_category()};
    return {};
  }
  auto fill = std::shared_ptr<Fill>(new Fill(key, std::move(read_fd)));
  // The hook holds the registry weakly: a fill that settles after the registry is gone is fine.
  fill->on_settled_ = [weak_registry = std::weak_ptr(registry_), key, raw = fill.get()] {
    if (auto registry = weak_registry.lock()) {
      std::lock_guard lock(registry->mutex);
      auto found = registry->fills.find(key);
      if (found != registry->fills.end() && found->second.get() == raw) {
        registry->fills.erase(found);
      }
    }
  };
  registry_->fills.emplace(key, fill);
  return {fill, FillWriter(fill, std::move(*blob))};
}

std::shared_ptr<Fill> FillRegistry::find(const std::string& key) const {
  std::lock_guard lock(registry_->mutex);
  const auto found = registry_->fills.find(key);
  return found == registry_->fills.end() ? nullptr : found->second;
}

std::size_t FillRegistry::active_fills() const {
  std::lock_guard lock(registry_->mutex);
  return registry_->fills.size();
}

}  // namespace pt::cache
