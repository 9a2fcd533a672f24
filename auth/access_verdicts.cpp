#include "auth/access_verdicts.hpp"

#include <openssl/sha.h>

namespace pt::auth {

AccessVerdicts::AccessVerdicts(std::chrono::seconds remember, std::size_t capacity)
    : remember_(remember), capacity_(capacity) {}

std::string AccessVerdicts::key(std::string_view authorization, std::string_view registry,
                                std::string_view repository) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(authorization.data()), authorization.size(), digest);
  std::string out(reinterpret_cast<const char*>(digest), sizeof digest);
  // Registry and repository names hold no '\n', so the parts cannot run into each other.
  out += '\n';
  out += registry;
  out += '\n';
  out += repository;
  return out;
}

bool AccessVerdicts::accepted(std::string_view authorization, std::string_view registry,
                              std::string_view repository, Clock::time_point now) {
  const auto k = key(authorization, registry, repository);
  std::lock_guard lock(mutex_);
  const auto found = until_.find(k);
  return found != until_.end() && found->second > now;
}

void AccessVerdicts::remember(std::string_view authorization, std::string_view registry,
                              std::string_view repository, Clock::time_point now) {
  auto k = key(authorization, registry, repository);
  std::lock_guard lock(mutex_);
  if (until_.size() >= capacity_) {
    std::erase_if(until_, [now](const auto& entry) { return entry.second <= now; });
    if (until_.size() >= capacity_) until_.clear();
  }
  until_[std::move(k)] = now + remember_;
}

}  // namespace pt::auth
