#include "auth/proxy_authenticator.hpp"

#include "common/ascii.hpp"
#include "auth/base64.hpp"

#include <openssl/sha.h>

namespace pt::auth {
namespace {

// Bounds memory whatever clients send: beyond this, expired entries go, then everything.
constexpr std::size_t max_remembered = 4096;

}  // namespace

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  header = trim(header);
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "basic")) return std::nullopt;
  const auto decoded = base64_decode(trim(header.substr(space + 1)));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

ProxyAuthenticator::ProxyAuthenticator(Htpasswd users, std::chrono::seconds remember)
    : users_(std::move(users)), remember_(remember) {}

std::string ProxyAuthenticator::fingerprint(std::string_view header) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(header.data()), header.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool ProxyAuthenticator::recently_accepted(std::string_view header, Clock::time_point now) {
  const auto key = fingerprint(header);
  std::lock_guard lock(mutex_);
  const auto found = accepted_.find(key);
  return found != accepted_.end() && found->second > now;
}

bool ProxyAuthenticator::check(std::string_view header, Clock::time_point now) {
  if (recently_accepted(header, now)) return true;
  const auto credentials = parse_basic_authorization(header);
  if (!credentials || !users_.verify(credentials->user, credentials->password)) return false;
  const auto key = fingerprint(header);
  std::lock_guard lock(mutex_);
  if (accepted_.size() >= max_remembered) {
    std::erase_if(accepted_, [now](const auto& entry) { return entry.second <= now; });
    if (accepted_.size() >= max_remembered) accepted_.clear();
  }
  accepted_[key] = now + remember_;
  return true;
}

}  // namespace pt::auth
