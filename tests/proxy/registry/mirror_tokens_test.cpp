#include "proxy/registry/mirror_tokens.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using namespace pt::registry;
using namespace std::chrono_literals;

TEST_CASE("Bearer challenges as registries send them") {
  auto c = parse_bearer_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  REQUIRE(c);
  CHECK(c->realm == "https://auth.docker.io/token");
  CHECK(c->service == "registry.docker.io");
  CHECK(c->scope == "repository:library/alpine:pull");

  c = parse_bearer_challenge(R"(bearer  Service="s", REALM="https://a/t" ,scope=x)");
  REQUIRE(c);
  CHECK(c->realm == "https://a/t");
  CHECK(c->service == "s");
  CHECK(c->scope == "x");

  c = parse_bearer_challenge(R"(Bearer realm="https://a/t",error="insufficient_scope",scope="a:b:pull b:c:pull")");
  REQUIRE(c);
  CHECK(c->scope == "a:b:pull b:c:pull");
  CHECK(c->service.empty());

  c = parse_bearer_challenge(R"(Bearer realm="https://a/t\"x")");
  REQUIRE(c);
  CHECK(c->realm == "https://a/t\"x");

  CHECK_FALSE(parse_bearer_challenge(R"(Basic realm="Registry Realm")"));
  CHECK_FALSE(parse_bearer_challenge("Bearer"));
  CHECK_FALSE(parse_bearer_challenge(R"(Bearer service="s")"));
  CHECK_FALSE(parse_bearer_challenge(R"(Bearer realm="https://unterminated)"));
  CHECK_FALSE(parse_bearer_challenge("Bearerrealm=x"));
  CHECK_FALSE(parse_bearer_challenge(""));
}

TEST_CASE("token query: service and each scope, encoded") {
  CHECK(token_query({"https://a/t", "registry.docker.io", "repository:library/alpine:pull"}) ==
        "service=registry.docker.io&scope=repository:library/alpine:pull");
  CHECK(token_query({"https://a/t", "my service", "a:b:pull,push c:d:pull"}) ==
        "service=my%20service&scope=a:b:pull%2Cpush&scope=c:d:pull");
  CHECK(token_query({"https://a/t", "", ""}).empty());
}

TEST_CASE("token responses: token or access_token, expires_in") {
  auto t = parse_token_response(R"({"token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"})");
  REQUIRE(t);
  CHECK(t->token == "abc");
  CHECK(t->expires_in == 300s);
  t = parse_token_response(R"({"access_token":"xyz"})");
  REQUIRE(t);
  CHECK(t->token == "xyz");
  CHECK(t->expires_in == 60s);
  t = parse_token_response(R"({"token":"a","expires_in":-5})");
  REQUIRE(t);
  CHECK(t->expires_in == 60s);
  CHECK(parse_token_response(R"({"token":"a","expires_in":99999999})")->expires_in == 24h);
  CHECK_FALSE(parse_token_response(R"({"token":""})"));
  CHECK_FALSE(parse_token_response("not json"));
  CHECK_FALSE(parse_token_response("[1]"));
  CHECK_FALSE(parse_token_response(R"({"token":5})"));
}

TEST_CASE("token cache: per registry and scope, until shortly before expiry") {
  TokenCache cache;
  const auto t0 = TokenCache::clock::now();
  cache.store("quay.io", "org/app", {"tok", 300s}, t0);
  CHECK(cache.find("quay.io", "org/app", t0) == "tok");
  CHECK(cache.find("quay.io", "org/app", t0 + 289s) == "tok");
  CHECK_FALSE(cache.find("quay.io", "org/app", t0 + 291s));
  CHECK_FALSE(cache.find("quay.io", "other", t0));
  CHECK_FALSE(cache.find("ghcr.io", "org/app", t0));

  cache.store("quay.io", "short", {"s", 4s}, t0);
  CHECK(cache.find("quay.io", "short", t0 + 1s) == "s");
  CHECK_FALSE(cache.find("quay.io", "short", t0 + 2s));

  cache.store("quay.io", "x", {"x", 300s}, t0);
  cache.forget("quay.io", "x");
  CHECK_FALSE(cache.find("quay.io", "x", t0));
}
