#pragma once
// Whether the proxy adds an Authorization header to one upstream request: the per-request decision
// that makes AUTH_REGISTRIES work.
//
// The client's own Authorization always wins. That is what keeps token registries working: the
// client fetches a token from the realm (where the proxy injects the configured Basic credentials
// if the client sent none) and then sends "Bearer <token>", which must reach the registry as is.
// It also lets a `docker login` on the client override the proxy's account. Hosts without a
// credential get nothing, which keeps credentials away from redirect targets such as blob storage.
#include "auth/credentials.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::auth {

// `host`/`port`: where the request goes upstream. Returns the Authorization value to add, or
// nothing to forward the request as the client sent it.
std::optional<std::string> authorization_to_inject(const CredentialStore& credentials, std::string_view host,
                                                   std::uint16_t port, bool client_sent_authorization);

}  // namespace pt::auth
