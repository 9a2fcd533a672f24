#include "proxy/http/message.hpp"

#include <catch2/catch.hpp>

using namespace pt::http;

TEST_CASE("header lookups ignore case and keep the name as sent") {
  Headers headers;
  headers.add("Content-Type", "application/json");
  headers.add("X-Multi", "one");
  headers.add("x-multi", "two");

  CHECK(headers.get("content-type") == "application/json");
  CHECK(headers.get("X-MULTI") == "one");
  CHECK(headers.contains("CONTENT-TYPE"));
  CHECK_FALSE(headers.contains("Content-Length"));
  CHECK_FALSE(headers.get("Content-Length").has_value());
  REQUIRE(headers.size() == 3);
  CHECK(headers.fields()[0].name == "Content-Type");
  CHECK(headers.fields()[2].name == "x-multi");
}

TEST_CASE("set replaces every field of a name in the place of the first") {
  Headers headers;
  headers.add("A", "1");
  headers.add("Via", "x");
  headers.add("B", "2");
  headers.add("via", "y");
  headers.set("VIA", "z");

  REQUIRE(headers.size() == 3);
  CHECK(headers.fields()[0].name == "A");
  CHECK(headers.fields()[1].name == "VIA");
  CHECK(headers.fields()[1].value == "z");
  CHECK(headers.fields()[2].name == "B");

  headers.set("New", "n");
  CHECK(headers.fields().back().name == "New");
}

TEST_CASE("remove drops every field of a name and counts them") {
  Headers headers;
  headers.add("Connection", "close");
  headers.add("Host", "h");
  headers.add("connection", "x");
  CHECK(headers.remove("CONNECTION") == 2);
  CHECK(headers.remove("Connection") == 0);
  REQUIRE(headers.size() == 1);
  CHECK(headers.fields()[0].name == "Host");
}

TEST_CASE("has_token reads comma-separated lists across fields") {
  Headers headers;
  headers.add("Connection", "keep-alive ,\tUpgrade");
  headers.add("Cache-Control", "no-cache");
  headers.add("cache-control", " max-age=0 , Private ");

  CHECK(headers.has_token("connection", "upgrade"));
  CHECK(headers.has_token("Connection", "KEEP-ALIVE"));
  CHECK(headers.has_token("Cache-Control", "no-cache"));
  CHECK(headers.has_token("Cache-Control", "private"));
  CHECK(headers.has_token("Cache-Control", "max-age=0"));
  CHECK_FALSE(headers.has_token("Connection", "close"));
  CHECK_FALSE(headers.has_token("Connection", "alive"));  // no substring matches
  CHECK_FALSE(headers.has_token("Upgrade", "upgrade"));
}

TEST_CASE("iequals compares ASCII case-insensitively") {
  CHECK(iequals("Content-Length", "content-length"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Content-Length", "Content-Lengt"));
  CHECK_FALSE(iequals("a", "b"));
}

TEST_CASE("a request head serializes to its wire form") {
  RequestHead head;
  head.method = "GET";
  head.target = "/v2/library/alpine/manifests/latest";
  head.headers.add("Host", "registry-1.docker.io");
  head.headers.add("Accept", "application/json");
  CHECK(serialize(head) ==
        "GET /v2/library/alpine/manifests/latest HTTP/1.1\r\n"
        "Host: registry-1.docker.io\r\n"
        "Accept: application/json\r\n"
        "\r\n");

  head.version_minor = 0;
  head.headers = {};
  CHECK(serialize(head) == "GET /v2/library/alpine/manifests/latest HTTP/1.0\r\n\r\n");
}

TEST_CASE("a response head serializes to its wire form") {
  ResponseHead head;
  head.reason = "OK";
  head.headers.add("Content-Length", "2");
  CHECK(serialize(head) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");

  head.status = 404;
  head.reason = "Nope";
  head.headers = {};
  CHECK(serialize(head) == "HTTP/1.1 404 Nope\r\n\r\n");

  // An empty reason gets the standard one.
  head.reason.clear();
  CHECK(serialize(head) == "HTTP/1.1 404 Not Found\r\n\r\n");
}

TEST_CASE("reason phrases are the standard ones") {
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(206) == "Partial Content");
  CHECK(reason_phrase(304) == "Not Modified");
  CHECK(reason_phrase(401) == "Unauthorized");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(407) == "Proxy Authentication Required");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(502) == "Bad Gateway");
  CHECK(reason_phrase(504) == "Gateway Timeout");
  CHECK(reason_phrase(299) == "Unknown");
  CHECK(reason_phrase(-1) == "Unknown");
}

TEST_CASE("list items come from every field of the name, trimmed, without empty items") {
  pt::http::Headers h;
  h.add("Connection", " keep-alive ,, X-A");
  h.add("connection", "X-B");
  h.add("Other", "x");
  const auto items = h.list_items("CONNECTION");
  REQUIRE(items.size() == 3);
  CHECK(items[0] == "keep-alive");
  CHECK(items[1] == "X-A");
  CHECK(items[2] == "X-B");
  CHECK(h.list_items("Absent").empty());
}
