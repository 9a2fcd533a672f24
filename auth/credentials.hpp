#pragma once
// Upstream credentials, one per registry host, and the HTTP Basic header made from them.
//
// A password must never reach a log line or an error message: describe() and the fmt formatter
// below print "user@host" only, and nothing in pt_auth formats the password anywhere else.
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include "common/snapshot.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::auth {

struct Credential {
  std::string host;  // normalised, as parse_authority returns it
  std::optional<std::uint16_t> port;  // when set, used for this port only
  std::string username;
  std::string password;

  // "user@host" or "user@host:port"; never the password.
  std::string describe() const;
};

// "Basic base64(user:password)", the value of an Authorization header (RFC 7617).
std::string basic_authorization(const Credential& credential);

// The credentials in force. They may be replaced while the proxy runs (AUTH_REGISTRIES_FILE, SIGHUP):
// the store holds an immutable snapshot, and replace() swaps in another under a mutex. A lookup
// gets a pointer that keeps its own snapshot alive, so a request that found a credential goes on
// with it whatever is swapped in meanwhile; the next lookup sees the new set.
class CredentialStore {
public:
  CredentialStore();

  // Throws std::invalid_argument (naming host and users) if two credentials claim the same host
  // and port: which one applies would be a guess.
  explicit CredentialStore(std::vector<Credential> credentials);

  // A copy holds the same snapshot; assignment is replace().
  CredentialStore(const CredentialStore&) = default;
  CredentialStore& operator=(const CredentialStore&) = default;

  // The credential for a request to host:port: one configured for exactly that port wins over one
  // configured without a port. `host` is compared case-insensitively. Null when none applies.
  std::shared_ptr<const Credential> find(std::string_view host, std::uint16_t port) const;

  // The credentials now in force (a snapshot: later replacements do not change it).
  std::shared_ptr<const std::vector<Credential>> snapshot() const;
  std::vector<Credential> all() const { return *snapshot(); }
  bool empty() const { return snapshot()->empty(); }

  // Every later lookup uses `other`'s credentials; lookups already made keep theirs.
  void replace(const CredentialStore& other);

private:
  Snapshot<std::vector<Credential>> credentials_;
};

}  // namespace pt::auth

// fmt::format("{}", credential) prints describe(), so a credential is safe to log by mistake.
template <>
struct fmt::formatter<pt::auth::Credential> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const pt::auth::Credential& credential, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(credential.describe(), ctx);
  }
};
