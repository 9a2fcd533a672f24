#pragma once
// Fetches a Bearer token from a registry's token endpoint (the realm of its challenge), as a
// registry client would: GET realm?service=..&scope=.., with HTTP Basic credentials from
// AUTH_REGISTRIES for the realm's host (as rpardini keys Docker Hub's: auth.docker.io) or, failing
// that, for the registry's host; anonymous otherwise.
#include "common/deadline.hpp"
#include "proxy/registry/dependencies.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/registry/mirror_tokens.hpp"

#include <asio/awaitable.hpp>

#include <optional>
#include <string>

namespace pt::registry {

struct TokenFetch {
  std::optional<IssuedToken> token;
  std::string error;  // when there is no token: why (never contains the credentials)
};

// `lend_credentials` false: always anonymous (CACHE_AUTH_MODE=verify, where the proxy must not
// lend its accounts to clients).
asio::awaitable<TokenFetch> fetch_token(const BearerChallenge& challenge, const http::Origin& registry, Dependencies& deps,
                                        Deadline& deadline, bool lend_credentials);

}  // namespace pt::registry
