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

CredentialStore::CredentialStore() = default;

CredentialStore::CredentialStore(std::vector<Credential> credentials) {
  for (auto& c : credentials) c.host = normalize_host(c.host);
  for (std::size_t i = 0; i < credentials.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& a = credentials[j];
      const auto& b = credentials[i];
      if (a.host == b.host && a.port == b.port) {
        throw std::invalid_argument(fmt::format("AUTH_REGISTRIES has two entries for {} ({} and {}); keep one",
                                                format_authority(a.host, a.port), a.describe(), b.describe()));
      }
    }
  }
  credentials_.replace(std::make_shared<const std::vector<Credential>>(std::move(credentials)));
}

std::shared_ptr<const std::vector<Credential>> CredentialStore::snapshot() const { return credentials_.get(); }

void CredentialStore::replace(const CredentialStore& other) { credentials_.replace(other.snapshot()); }

std::shared_ptr<const Credential> CredentialStore::find(std::string_view host, std::uint16_t port) const {
  const auto credentials = snapshot();
  const auto normalized = normalize_host(host);
  const Credential* any_port = nullptr;
  for (const auto& c : *credentials) {
    if (c.host != normalized) continue;
    // The aliasing constructor: the result points at one credential and owns the whole snapshot.
    if (c.port == port) return {credentials, &c};
    if (!c.port) any_port = &c;
  }
  if (any_port == nullptr) return nullptr;
  return {credentials, any_port};
}

}  // namespace pt::auth
