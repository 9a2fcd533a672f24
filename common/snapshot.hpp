#pragma once
// A setting that a reload replaces while requests read it (SIGHUP, AUTH_REGISTRIES_FILE): a reader
// takes the version in force, an immutable value it may keep for as long as its request runs;
// replace() swaps in the next one under a mutex, so nobody sees half an update and nothing a
// reader holds changes under it. The credentials, the intercepted registries, ALLOWED_CLIENTS,
// ALLOWED_CONNECT and REGISTRY_MIRRORS are held this way.
#include <memory>
#include <mutex>

namespace pt {

template <class T>
class Snapshot {
public:
  explicit Snapshot(std::shared_ptr<const T> value = std::make_shared<const T>()) : value_(std::move(value)) {}

  // A copy starts from the same version (only the pointer is copied); assignment is replace().
  Snapshot(const Snapshot& other) : value_(other.get()) {}
  Snapshot& operator=(const Snapshot& other) {
    if (this != &other) replace(other.get());
    return *this;
  }

  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

  void replace(std::shared_ptr<const T> next) {
    std::lock_guard lock(mutex_);
    value_ = std::move(next);
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace pt
