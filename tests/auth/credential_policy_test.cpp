#include "auth/credential_policy.hpp"

#include "auth/auth_registries.hpp"

#include <catch2/catch.hpp>

using namespace pt::auth;

TEST_CASE("configured credentials are injected when the client sent none") {
  const auto hub = parse_auth_registries("auth.docker.io:Aladdin:open sesame", ";;;");
  CHECK(authorization_to_inject(hub, "auth.docker.io", 443, false) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(authorization_to_inject(hub, "AUTH.docker.io", 443, false) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_CASE("the client's own Authorization always wins") {
  const auto hub = parse_auth_registries("auth.docker.io:user:pass");
  CHECK_FALSE(authorization_to_inject(hub, "auth.docker.io", 443, true));
}

TEST_CASE("hosts without credentials get nothing") {
  const auto store = parse_auth_registries("auth.docker.io:user:pass");
  CHECK_FALSE(authorization_to_inject(store, "registry-1.docker.io", 443, false));
  CHECK_FALSE(authorization_to_inject(store, "production.cloudflare.docker.com", 443, false));
  CHECK_FALSE(authorization_to_inject(CredentialStore(), "auth.docker.io", 443, false));
}

TEST_CASE("port-specific credentials apply to their port only") {
  const auto store = parse_auth_registries("myreg:5000:::u:::p", " ", ":::");
  CHECK(authorization_to_inject(store, "myreg", 5000, false) == "Basic dTpw");
  CHECK_FALSE(authorization_to_inject(store, "myreg", 443, false));
}
