#include "s3/credentials.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using pt::s3::access_key_from_settings;

TEST_CASE("credentials come from the AWS_* settings", "[s3][credentials]") {
  const auto key = access_key_from_settings("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "");
  REQUIRE(key);
  CHECK(key->access_key_id == "AKIAIOSFODNN7EXAMPLE");
  CHECK(key->secret_access_key == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  CHECK_FALSE(key->session_token);
  const auto temporary = access_key_from_settings("ASIAEXAMPLEEXAMPLE12", "secret", "token+/=");
  REQUIRE(temporary);
  CHECK(temporary->session_token == "token+/=");
  CHECK_FALSE(access_key_from_settings("", "", ""));
}

TEST_CASE("a credential description never holds the secret", "[s3][credentials]") {
  const auto key = access_key_from_settings("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "");
  CHECK(key->describe() == "AKIA...MPLE");
  CHECK(access_key_from_settings("short", "s", "")->describe() == "...");
  const auto temporary = access_key_from_settings("ASIAEXAMPLEEXAMPLE12", "secret", "the-token");
  CHECK(temporary->describe() == "ASIA...LE12 with a session token");
  CHECK(temporary->describe().find("the-token") == std::string::npos);
}

TEST_CASE("half a credential is an error naming the missing setting, never the values", "[s3][credentials]") {
  const auto message = [](std::string_view id, std::string_view secret, std::string_view token) -> std::string {
    try {
      access_key_from_settings(id, secret, token);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return {};
  };
  CHECK(message("AKIA", "", "").find("AWS_SECRET_ACCESS_KEY") != std::string::npos);
  CHECK(message("", "s3cr3t", "").find("AWS_ACCESS_KEY_ID") != std::string::npos);
  CHECK(message("", "", "tok").find("AWS_SESSION_TOKEN") != std::string::npos);
  const auto newline = message("AKIA", "s3cr3t\n", "");
  CHECK(newline.find("AWS_SECRET_ACCESS_KEY") != std::string::npos);
  CHECK(newline.find("s3cr3t") == std::string::npos);
  CHECK_FALSE(message("AKIA", "s3 cr3t", "").empty());
}
