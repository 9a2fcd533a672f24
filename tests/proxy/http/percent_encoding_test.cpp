#include "proxy/http/percent_encoding.hpp"

#include <catch2/catch.hpp>

using namespace pt::http;

TEST_CASE("percent_decode is strict: a broken escape or an encoded NUL is no text") {
  CHECK(percent_decode("/admin/cache/registry.test%3A5000/app%3a1.0") ==
        "/admin/cache/registry.test:5000/app:1.0");
  CHECK(percent_decode("plain") == "plain");
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("a%4"));
  CHECK_FALSE(percent_decode("a%zz"));
  CHECK_FALSE(percent_decode("a%00b"));
}

TEST_CASE("percent_decode reads '+' as a space only in a query") {
  CHECK(percent_decode("a+b") == "a+b");
  CHECK(percent_decode("a+b", Plus::space) == "a b");
  CHECK(percent_decode("registry.test%3A5000", Plus::space) == "registry.test:5000");
}

TEST_CASE("percent_encode keeps RFC 3986 unreserved characters only, and round-trips") {
  CHECK(percent_encode("library/app:1.0~x_y-z") == "library%2Fapp%3A1.0~x_y-z");
  CHECK(percent_encode("a b+\xff") == "a%20b%2B%FF");
  const std::string all = [] {
    std::string s;
    for (int c = 1; c < 256; ++c) s += static_cast<char>(c);
    return s;
  }();
  CHECK(percent_decode(percent_encode(all)) == all);
}
