#include "auth/base64.hpp"
#include "auth/htpasswd.hpp"
#include "auth/proxy_authenticator.hpp"

#include <catch2/catch.hpp>

using namespace pt::auth;

namespace {
// Made with: htpasswd -nbB -C 5 alice wonderland ; htpasswd -nbs bob builder
constexpr const char* file_text =
    "# users of the proxy\n"
    "alice:$2y$05$AikMDJC7wrqcPE9XnpfAnuDGmVJf9baS6z4cHb.ZXnw/6UUQba06u\n"
    "\n"
    "bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=\n";

std::string basic(std::string_view user_and_password) { return "Basic " + base64_encode(user_and_password); }
}  // namespace

TEST_CASE("base64 decoding is strict", "[base64]") {
  CHECK(base64_decode("YWxpY2U6cHc=") == "alice:pw");
  CHECK(base64_decode("YQ==") == "a");
  CHECK(base64_decode("YWI=") == "ab");
  CHECK(base64_decode("") == "");
  CHECK_FALSE(base64_decode("YQ="));
  CHECK_FALSE(base64_decode("Y===").has_value());
  CHECK_FALSE(base64_decode("YQ==YQ==").has_value());
  CHECK_FALSE(base64_decode("YW I=").has_value());
  CHECK_FALSE(base64_decode("Y=Q=").has_value());
}

TEST_CASE("Basic authorization headers are parsed", "[proxy-auth]") {
  const auto parsed = parse_basic_authorization("basic " + base64_encode("user:pa:ss"));
  REQUIRE(parsed);
  CHECK(parsed->user == "user");
  CHECK(parsed->password == "pa:ss");
  CHECK_FALSE(parse_basic_authorization("Bearer abc"));
  CHECK_FALSE(parse_basic_authorization("Basic !!!!"));
  CHECK_FALSE(parse_basic_authorization("Basic " + base64_encode("no-colon")));
  CHECK_FALSE(parse_basic_authorization(""));
}

TEST_CASE("htpasswd verifies bcrypt and SHA users", "[htpasswd]") {
  const auto users = Htpasswd::parse(file_text, "test");
  CHECK(users.size() == 2);
  CHECK(users.verify("alice", "wonderland"));
  CHECK_FALSE(users.verify("alice", "wonderlan"));
  CHECK_FALSE(users.verify("alice", ""));
  CHECK(users.verify("bob", "builder"));
  CHECK_FALSE(users.verify("bob", "Builder"));
  CHECK_FALSE(users.verify("mallory", "builder"));
  CHECK_FALSE(users.verify("alice", std::string("wonderland\0x", 12)));
}

TEST_CASE("htpasswd refuses hashes it cannot check, naming the line", "[htpasswd]") {
  auto message = [](std::string_view text) {
    try {
      Htpasswd::parse(text, "users.htpasswd");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message("a:$apr1$abc$def\n").find("users.htpasswd line 1: $apr1$") != std::string::npos);
  CHECK(message("\n# c\nplain:secret\n").find("line 3") != std::string::npos);
  CHECK(message("nocolon\n").find("expected 'user:hash'") != std::string::npos);
  CHECK(message("bob:{SHA}x\nbob:{SHA}y\n").find("appears twice") != std::string::npos);
}

TEST_CASE("The authenticator remembers accepted headers, not rejected ones", "[proxy-auth]") {
  ProxyAuthenticator auth(Htpasswd::parse(file_text, "test"), std::chrono::seconds(60));
  const auto now = ProxyAuthenticator::Clock::now();
  const auto good = basic("alice:wonderland");
  CHECK_FALSE(auth.recently_accepted(good, now));
  CHECK(auth.check(good, now));
  CHECK(auth.recently_accepted(good, now + std::chrono::seconds(30)));
  CHECK_FALSE(auth.recently_accepted(good, now + std::chrono::seconds(61)));
  CHECK_FALSE(auth.check(basic("alice:nope"), now));
  CHECK_FALSE(auth.recently_accepted(basic("alice:nope"), now));
  CHECK(auth.check(basic("bob:builder"), now));
  CHECK_FALSE(auth.check("Basic garbage", now));
}
