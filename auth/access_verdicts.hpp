#pragma once
// CACHE_AUTH_MODE=verify remembers, for a short while, that the registry accepted a client's
// credential for a repository, so a pull's many requests cost one upstream check, not one each.
// Only acceptances are remembered: a refusal is always re-asked (the client may just have logged
// in). Credentials are kept as SHA-256 fingerprints, never as text. Thread-safe and bounded.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pt::auth {

class AccessVerdicts {
public:
  using Clock = std::chrono::steady_clock;

  explicit AccessVerdicts(std::chrono::seconds remember = std::chrono::minutes(1), std::size_t capacity = 10000);

  // `authorization` is the client's Authorization header (empty: none, i.e. anonymous access).
  bool accepted(std::string_view authorization, std::string_view registry, std::string_view repository,
                Clock::time_point now = Clock::now());
  void remember(std::string_view authorization, std::string_view registry, std::string_view repository,
                Clock::time_point now = Clock::now());

private:
  static std::string key(std::string_view authorization, std::string_view registry, std::string_view repository);

  const std::chrono::seconds remember_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> until_;
};

}  // namespace pt::auth
