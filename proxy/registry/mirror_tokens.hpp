#pragma once
// Bearer tokens for the registry mirror. A mirror client talks to the mirror as to a registry that
// needs no authentication (the mirror answers "/v2/" with 200 itself), so when the upstream
// registry challenges with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`, the proxy
// fetches the token itself (anonymously, or with the AUTH_REGISTRIES credentials of the realm's or
// the registry's host) and retries. Tokens are kept per registry and scope until they expire.
//
// This file holds the pure parts (challenge and token-response parsing) and the shared,
// thread-safe cache; mirror_token_fetch does the HTTP.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pt::registry {

struct BearerChallenge {
  std::string realm;    // absolute https URL of the token endpoint
  std::string service;  // may be empty
  std::string scope;    // may be empty (e.g. for the ping)
};

// Parses one WWW-Authenticate value; nullopt unless it is a Bearer challenge with a realm.
// Quoted and token parameter values, any order, case-insensitive scheme and parameter names.
std::optional<BearerChallenge> parse_bearer_challenge(std::string_view header);

// The query of the token request: "service=...&scope=..." (percent-encoded; empty parts omitted).
std::string token_query(const BearerChallenge& challenge);

struct IssuedToken {
  std::string token;
  std::chrono::seconds expires_in{60};  // the spec's default when the server gives none
};

// Reads a token endpoint's JSON answer ("token" or, OAuth2-style, "access_token"; "expires_in").
// nullopt when the body holds neither.
std::optional<IssuedToken> parse_token_response(std::string_view body);

// Tokens by (registry authority, scope). Safe to use from every I/O thread.
class TokenCache {
public:
  using clock = std::chrono::steady_clock;

  std::optional<std::string> find(const std::string& registry, const std::string& scope, clock::time_point now);
  // Keeps the token until a little before it expires (a token about to expire would fail upstream).
  void store(const std::string& registry, const std::string& scope, const IssuedToken& token, clock::time_point now);
  void forget(const std::string& registry, const std::string& scope);

private:
  struct Entry {
    std::string token;
    clock::time_point expires;
  };
  static constexpr std::size_t max_entries = 4096;  // scopes are client-chosen: keep it bounded

  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace pt::registry
