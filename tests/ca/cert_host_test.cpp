#include "ca/cert_host.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using pt::ca::CertHost;

TEST_CASE("CertHost lower-cases DNS names") {
  const auto host = CertHost::parse("Registry-1.Docker.IO");
  REQUIRE(host);
  CHECK(host->kind == CertHost::Kind::dns);
  CHECK(host->name == "registry-1.docker.io");
}

TEST_CASE("CertHost accepts IP literals, IPv6 bare or bracketed") {
  const auto v4 = CertHost::parse("127.0.0.1");
  REQUIRE(v4);
  CHECK(v4->kind == CertHost::Kind::ip);
  CHECK(v4->name == "127.0.0.1");

  const auto bare = CertHost::parse("::1");
  const auto bracketed = CertHost::parse("[::1]");
  REQUIRE(bare);
  REQUIRE(bracketed);
  CHECK(bracketed->kind == CertHost::Kind::ip);
  CHECK(bracketed->name == "::1");
  CHECK(bare->name == bracketed->name);
  // The canonical form makes differently written addresses one cache key.
  CHECK(CertHost::parse("0:0:0:0:0:0:0:1")->name == "::1");
  CHECK(CertHost::parse("2001:DB8::A")->name == "2001:db8::a");
}

TEST_CASE("CertHost accepts the longest legal names and a leftmost wildcard") {
  const std::string label63(63, 'a');
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  REQUIRE(name253.size() == 253);
  CHECK(CertHost::parse(name253));
  CHECK(CertHost::parse("under_score.example"));
  CHECK(CertHost::parse("localhost"));
  CHECK(CertHost::parse("*.example.com"));
}

TEST_CASE("CertHost rejects what cannot be a certificate name") {
  const std::string label64(64, 'a');
  const std::string name254 = std::string(63, 'a') + "." + std::string(63, 'a') + "." +
                              std::string(63, 'a') + "." + std::string(62, 'b');
  REQUIRE(name254.size() == 254);
  const std::string rejected[] = {
      "",           ".",          "a..b",           ".example",     "example.",
      "host:443",   "a b",        "a/b",            "a\nb",         std::string("a\0b", 3),
      "caf\xc3\xa9", label64,     name254,          "*",            "a.*.com",
      "foo*.com",   "*.",         "[127.0.0.1]",    "[::1",         "::1]",
      "fe80::1%eth0", "[fe80::1%1]", "user@host",    "%00",
  };
  for (const auto& text : rejected) {
    INFO("host: " << text);
    CHECK_FALSE(CertHost::parse(text));
    CHECK_THROWS_AS(CertHost::parse_or_throw(text), std::invalid_argument);
  }
}

TEST_CASE("CertHost error messages escape hostile input") {
  try {
    CertHost::parse_or_throw("evil\r\nX-Injected: 1");
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find("\\r\\n") != std::string::npos);
  }
}
