#pragma once
// Client authentication for the proxy (PROXY_AUTH_FILE): checks a request's Proxy-Authorization
// against the htpasswd users. Docker sends the same header on every CONNECT of a pull, and bcrypt
// costs tens of milliseconds on purpose, so accepted headers are remembered for a while (as a
// SHA-256, never as text) and later checks of the same header are instant.
#include "auth/htpasswd.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pt::auth {

// "Basic dXNlcjpwYXNz" -> {user, password}; nullopt for another scheme or malformed text.
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

class ProxyAuthenticator {
public:
  using Clock = std::chrono::steady_clock;

  explicit ProxyAuthenticator(Htpasswd users, std::chrono::seconds remember = std::chrono::minutes(5));

  // Never blocks: whether `header` was accepted within the remember period.
  bool recently_accepted(std::string_view header, Clock::time_point now = Clock::now());

  // The full check (blocking for bcrypt); remembers acceptance. Thread-safe.
  bool check(std::string_view header, Clock::time_point now = Clock::now());

private:
  static std::string fingerprint(std::string_view header);

  const Htpasswd users_;
  const std::chrono::seconds remember_;
  std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> accepted_;  // fingerprint -> until
};

}  // namespace pt::auth
