#include "auth/auth_registries.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <string>

using namespace pt::auth;

namespace {

// The exception text of a configuration error, or "" if the parse succeeded.
std::string error_of(std::string_view text, std::string_view entry_delimiter = " ",
                     std::string_view field_delimiter = ":") {
  try {
    parse_auth_registries(text, entry_delimiter, field_delimiter);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

Credential only(const CredentialStore& store) {
  REQUIRE(store.all().size() == 1);
  return store.all().front();
}

}  // namespace

TEST_CASE("rpardini's README example: host:user:password, space separated") {
  const auto store = parse_auth_registries("auth.docker.io:dockerhub_username:dockerhub_password "
                                           "your.own.registry:username:password");
  REQUIRE(store.all().size() == 2);
  const auto hub = store.find("auth.docker.io", 443);
  REQUIRE(hub != nullptr);
  CHECK(hub->username == "dockerhub_username");
  CHECK(hub->password == "dockerhub_password");
  CHECK_FALSE(hub->port);
  CHECK(store.find("your.own.registry", 443)->password == "password");
}

TEST_CASE("the password is everything after the second delimiter") {
  const auto store = parse_auth_registries("auth.docker.io:user:pass quay.io:user2:pa:ss");
  CHECK(store.find("auth.docker.io", 443)->password == "pass");
  CHECK(store.find("quay.io", 443)->username == "user2");
  CHECK(store.find("quay.io", 443)->password == "pa:ss");
  CHECK(only(parse_auth_registries("h:u:::")).password == "::");
}

TEST_CASE("users may be email addresses") {
  const auto c = only(parse_auth_registries("registry.gitlab.com:me@example.com:glpat-xyz"));
  CHECK(c.username == "me@example.com");
  CHECK(c.password == "glpat-xyz");
  CHECK(c.describe() == "me@example.com@registry.gitlab.com");
}

TEST_CASE("GCR JSON keys: AUTH_REGISTRIES_DELIMITER=';;;' allows spaces and colons in the password") {
  const std::string key = R"({ "type": "service_account", "project_id": "my-project",
  "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE:abc\n-----END PRIVATE KEY-----\n",
  "client_email": "puller@my-project.iam.gserviceaccount.com" })";

  SECTION("with the default ':' field delimiter") {
    const auto store = parse_auth_registries("gcr.io:_json_key:" + key + ";;;quay.io:robot:pw", ";;;");
    REQUIRE(store.all().size() == 2);
    CHECK(store.find("gcr.io", 443)->username == "_json_key");
    CHECK(store.find("gcr.io", 443)->password == key);
    CHECK(store.find("quay.io", 443)->password == "pw");
  }
  SECTION("with AUTH_REGISTRY_DELIMITER=':::' as rpardini's README suggests") {
    const auto store = parse_auth_registries("gcr.io:::_json_key:::" + key + ";;;quay.io:::robot:::pw", ";;;", ":::");
    CHECK(store.find("gcr.io", 443)->password == key);
    CHECK(store.find("quay.io", 443)->password == "pw");
  }
  SECTION("entries written one per line in a YAML block") {
    const auto store = parse_auth_registries("\n  gcr.io:_json_key:" + key + " ;;;\n  quay.io:robot:pw\n;;;\n", ";;;");
    CHECK(store.find("gcr.io", 443)->password == key);
    CHECK(store.find("quay.io", 443)->password == "pw");
  }
}

TEST_CASE("AUTH_REGISTRY_DELIMITER=':::' lets the host carry a port") {
  const auto store = parse_auth_registries("myreg:5000:::user:::pw quay.io:::u2:::p:2", " ", ":::");
  const auto c = store.find("myreg", 5000);
  REQUIRE(c != nullptr);
  CHECK(c->port == 5000);
  CHECK(c->username == "user");
  CHECK(c->password == "pw");
  CHECK(c->describe() == "user@myreg:5000");
  CHECK(store.find("myreg", 443) == nullptr);
  CHECK(store.find("quay.io", 443)->password == "p:2");
}

TEST_CASE("empty delimiters mean the defaults, as in rpardini's ${VAR:-default}") {
  const auto store = parse_auth_registries("a.io:u:p b.io:u:p", "", "");
  CHECK(store.all().size() == 2);
}

TEST_CASE("the default entry delimiter accepts any whitespace and skips empty entries") {
  const auto store = parse_auth_registries("  a.io:u:p\n\tb.io:u:p   c.io:u:p\r\n");
  CHECK(store.all().size() == 3);
  CHECK(parse_auth_registries("").empty());
  CHECK(parse_auth_registries("   \n ").empty());
  CHECK(parse_auth_registries(";;; ;;;", ";;;").empty());
}

TEST_CASE("hosts are normalised: case, scheme, trailing slash, docker.io") {
  CHECK(only(parse_auth_registries("Quay.IO:u:p")).host == "quay.io");
  CHECK(only(parse_auth_registries("https://quay.io/:u:p")).host == "quay.io");
  CHECK(only(parse_auth_registries("http://quay.io:u:p")).host == "quay.io");
  CHECK(only(parse_auth_registries("https://myreg:5000/:::u:::p", " ", ":::")).port == 5000);
  const auto hub = only(parse_auth_registries("docker.io:u:p"));
  CHECK(hub.host == "auth.docker.io");
  CHECK(hub.describe() == "u@auth.docker.io");
}

TEST_CASE("malformed entries name the entry, never the password") {
  const std::string secret = "Sup3rS3cret";

  SECTION("missing user and password: nothing of the entry is shown") {
    const auto message = error_of("good.io:u:" + secret + " " + secret);
    CHECK_THAT(message, Catch::Contains("entry #2") && Catch::Contains("no user and password"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("wrong field delimiter: the whole entry could be a secret") {
    const auto message = error_of("quay.io;user;" + secret);
    CHECK_THAT(message, Catch::Contains("entry #1") && Catch::Contains("expected host:user:password"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("missing password: the lone field after the host is not shown") {
    const auto message = error_of("quay.io:" + secret);
    CHECK_THAT(message, Catch::Contains("entry #1 for host 'quay.io'") && Catch::Contains("no password"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("empty host") {
    const auto message = error_of(":user:" + secret);
    CHECK_THAT(message, Catch::Contains("entry #1") && Catch::Contains("empty host"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("invalid host") {
    const auto message = error_of("bad!host:user:" + secret);
    CHECK_THAT(message, Catch::Contains("'bad!host'") && Catch::Contains("invalid host"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("invalid port") {
    const auto message = error_of("myreg:99999:::user:::" + secret, " ", ":::");
    CHECK_THAT(message, Catch::Contains("'myreg:99999'") && Catch::Contains("65535"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("empty user") {
    const auto message = error_of("quay.io::" + secret);
    CHECK_THAT(message, Catch::Contains("@quay.io") && Catch::Contains("empty user"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("empty password") {
    const auto message = error_of("quay.io:robot:");
    CHECK_THAT(message, Catch::Contains("robot@quay.io") && Catch::Contains("empty password"));
  }
  SECTION("a user containing ':' cannot be sent with Basic authentication") {
    const auto message = error_of("quay.io:::ro:bot:::" + secret, " ", ":::");
    CHECK_THAT(message, Catch::Contains("ro:bot@quay.io") && Catch::Contains("must not contain ':'"));
    CHECK_THAT(message, Catch::Contains("expected host:::user:::password"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("duplicate hosts") {
    const auto message = error_of("quay.io:a:" + secret + " QUAY.io:b:" + secret);
    CHECK_THAT(message, Catch::Contains("a@quay.io") && Catch::Contains("b@quay.io"));
    CHECK_THAT(message, !Catch::Contains(secret));
  }
  SECTION("control characters in host or user do not reach the message raw") {
    const auto message = error_of("quay.io:ro\nbot:", ";;;");
    CHECK_THAT(message, Catch::Contains("ro?bot@quay.io"));
  }
}

TEST_CASE("no input crashes the parser") {
  const std::string inputs[] = {":", "::", ":::", "::::::", "[", "[::1]:u:p", "a:b", std::string(5000, ':'),
                                std::string("h\0st:u:p", 8), "https://", "https://:u:p", "*.x:u:p"};
  for (const auto& input : inputs) {
    for (std::string_view field_delimiter : {":", ":::"}) {
      try {
        parse_auth_registries(input, " ", field_delimiter);
      } catch (const std::invalid_argument&) {
      }
    }
  }
  SUCCEED();
}

TEST_CASE("IPv6 registries need a field delimiter other than ':'") {
  const auto c = only(parse_auth_registries("[fd00::5]:5000:::u:::p", " ", ":::"));
  CHECK(c.host == "fd00::5");
  CHECK(c.port == 5000);
}

TEST_CASE("host:port:user:password: a number after the host followed by user and password is a port") {
  const auto store = parse_auth_registries("registry.test:25443:alice:secret quay.io:robot:pw");
  const auto c = store.find("registry.test", 25443);
  REQUIRE(c != nullptr);
  CHECK(c->username == "alice");
  CHECK(c->password == "secret");
  CHECK(c->describe() == "alice@registry.test:25443");  // what the start-up log says
  CHECK(store.find("registry.test", 443) == nullptr);
  CHECK(store.find("quay.io", 443)->username == "robot");
  // The password is still everything after the user.
  CHECK(only(parse_auth_registries("localhost:5000:u:pa:ss")).password == "pa:ss");
  // A number followed by one field only is a user and its password, as before.
  const auto numeric_user = only(parse_auth_registries("registry.test:12345:secret"));
  CHECK(numeric_user.username == "12345");
  CHECK_FALSE(numeric_user.port);
  // With another field delimiter the port is written in the host, and a number after it is a user.
  const auto delimited = only(parse_auth_registries("myreg:5000:::12345:::pw:::x", " ", ":::"));
  CHECK(delimited.port == 5000);
  CHECK(delimited.username == "12345");
  CHECK(delimited.password == "pw:::x");
}

TEST_CASE("a number after the host that is no port is ambiguous: refused, the password never shown") {
  for (const char* entry : {"registry.test:70000:alice:s3cret", "registry.test:0:alice:s3cret"}) {
    const auto error = error_of(entry);
    INFO(error);
    CHECK_THAT(error, Catch::Contains("AUTH_REGISTRIES entry #1"));
    CHECK_THAT(error, Catch::Contains("no port"));
    CHECK_THAT(error, Catch::Contains("host:port:user:password"));
    CHECK(error.find("s3cret") == std::string::npos);
  }
}
