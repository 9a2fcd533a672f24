#include "auth/credential_policy.hpp"

namespace pt::auth {

std::optional<std::string> authorization_to_inject(const CredentialStore& credentials, std::string_view host,
                                                   std::uint16_t port, bool client_sent_authorization) {
  if (client_sent_authorization) return std::nullopt;
  const auto credential = credentials.find(host, port);
  if (credential == nullptr) return std::nullopt;
  return basic_authorization(*credential);
}

}  // namespace pt::auth
