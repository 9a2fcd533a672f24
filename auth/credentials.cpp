#include "auth/credentials.hpp"

#include "common/ascii.hpp"
#include "auth/base64.hpp"
#include "common/host_port.hpp"

#include <stdexcept>

namespace pt::auth {

std::string Credential::describe() const { return printable(username) + "@" + format_authority(host, port); }

std::string basic_authorization(const Credential& credential) {
  return "Basic " + base64_encode(credential.username + ":" + credential.password);
}

CredentialStore::CredentialStore(std::vector<Credential> credentials) : credentials_(std::move(credentials)) {
  for (auto& c : credentials_) c.host = normalize_host(c.host);
  for (std::size_t i = 0; i < credentials_.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& a = credentials_[j];
      const auto& b = credentials_[i];
      if (a.host == b.host && a.port == b.port) {
        throw std::invalid_argument(fmt::format("AUTH_REGISTRIES has two entries for {} ({} and {}); keep one",
                                                format_authority(a.host, a.port), a.describe(), b.describe()));
      }
    }
  }
}

const Credential* CredentialStore::find(std::string_view host, std::uint16_t port) const {
  const auto normalized = normalize_host(host);
  const Credential* any_port = nullptr;
  for (const auto& c : credentials_) {
    if (c.host != normalized) continue;
    if (c.port == port) return &c;
    if (!c.port) any_port = &c;
  }
  return any_port;
}

}  // namespace pt::auth
