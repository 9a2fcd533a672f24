#include "auth/credentials.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

using namespace pt::auth;

namespace {

Credential credential(std::string host, std::optional<std::uint16_t> port, std::string user, std::string password) {
  return Credential{std::move(host), port, std::move(user), std::move(password)};
}

}  // namespace

TEST_CASE("a credential describes itself without its password") {
  const auto c = credential("quay.io", std::nullopt, "robot@example.com", "s3cret");
  CHECK(c.describe() == "robot@example.com@quay.io");
  CHECK(fmt::format("{}", c) == "robot@example.com@quay.io");
  CHECK(fmt::format("[{:>30}]", c) == "[     robot@example.com@quay.io]");
  CHECK(credential("myreg", 5000, "u", "s3cret").describe() == "u@myreg:5000");
  CHECK(credential("fd00::5", 5000, "u", "s3cret").describe() == "u@[fd00::5]:5000");
}

TEST_CASE("the Basic header encodes user:password") {
  CHECK(basic_authorization(credential("h", std::nullopt, "Aladdin", "open sesame")) ==
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(basic_authorization(credential("h", std::nullopt, "user", "pa:ss")) == "Basic dXNlcjpwYTpzcw==");
}

TEST_CASE("lookups match host case-insensitively; a port-specific entry wins") {
  const CredentialStore store({credential("myreg", std::nullopt, "any", "p1"), credential("myreg", 5000, "five", "p2"),
                               credential("quay.io", std::nullopt, "q", "p3"), credential("only", 8443, "o", "p4")});
  REQUIRE(store.find("myreg", 5000) != nullptr);
  CHECK(store.find("myreg", 5000)->username == "five");
  CHECK(store.find("MyReg", 443)->username == "any");
  CHECK(store.find("quay.io.", 443)->username == "q");
  CHECK(store.find("only", 8443)->username == "o");
  CHECK(store.find("only", 443) == nullptr);
  CHECK(store.find("cdn.quay.io", 443) == nullptr);
  CHECK(store.find("", 443) == nullptr);
  CHECK(store.all().size() == 4);
  CHECK(CredentialStore().empty());
  CHECK(CredentialStore().find("quay.io", 443) == nullptr);
}

TEST_CASE("two credentials for the same host and port are refused without showing passwords") {
  try {
    CredentialStore({credential("Quay.io", std::nullopt, "a", "first-secret"),
                     credential("quay.io", std::nullopt, "b", "second-secret")});
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("quay.io") && Catch::Contains("a@quay.io") && Catch::Contains("b@quay.io"));
    CHECK_THAT(message, !Catch::Contains("secret"));
  }
  CHECK_NOTHROW(CredentialStore({credential("quay.io", std::nullopt, "a", "p"), credential("quay.io", 5000, "b", "p")}));
}

TEST_CASE("replace: later lookups see the new set, a credential already found stays valid") {
  CredentialStore live({credential("registry.test", std::nullopt, "alice", "wrong")});
  const auto before = live.find("registry.test", 443);
  REQUIRE(before != nullptr);
  live.replace(CredentialStore({credential("registry.test", std::nullopt, "alice", "right"),
                                credential("quay.io", std::nullopt, "q", "p")}));
  CHECK(before->password == "wrong");  // the request that looked it up goes on with it
  CHECK(live.find("registry.test", 443)->password == "right");
  CHECK(live.find("quay.io", 443) != nullptr);
  CHECK(live.all().size() == 2);
  const auto snapshot = live.snapshot();
  live = CredentialStore();  // assignment replaces
  CHECK(live.empty());
  CHECK(snapshot->size() == 2);
}
