#include "proxy/app/warm_cli.hpp"

#include <catch2/catch.hpp>

using namespace pt::app;

TEST_CASE("warm --proxy takes http://host:port, host:port or host") {
  auto proxy = parse_proxy_address("http://proxy.example:3129/");
  REQUIRE(proxy);
  CHECK(proxy->host == "proxy.example");
  CHECK(proxy->port == 3129);
  CHECK(proxy->authority == "proxy.example:3129");
  proxy = parse_proxy_address("10.0.0.5");
  REQUIRE(proxy);
  CHECK(proxy->port == 3128);
  proxy = parse_proxy_address("[::1]:3128");
  REQUIRE(proxy);
  CHECK(proxy->host == "::1");
  CHECK(proxy->authority == "[::1]:3128");
  CHECK_FALSE(parse_proxy_address(""));
  CHECK_FALSE(parse_proxy_address("https://proxy/path"));
  CHECK_FALSE(parse_proxy_address("http://user:pw@proxy:3128"));
}

TEST_CASE("warm progress lines as the CLI prints them") {
  auto text = describe_warm_line(
      R"({"image":"r/app:1","event":"manifests","manifests":3,"platforms":["linux/amd64"],"blobs_total":4,"bytes_total":2048})");
  CHECK(text.text == "r/app:1: 3 manifest(s) [linux/amd64], 4 blob(s), 2.0 KiB");
  CHECK_FALSE(text.to_stdout);
  text = describe_warm_line(
      R"({"image":"r/app:1","event":"blob","digest":"sha256:0123456789abcdef","cached":false,"blobs_done":1,"blobs_total":4,"blobs_cached":0,"bytes":1024,"bytes_total":2048})");
  CHECK(text.text == "r/app:1: 0123456789ab fetched: 1/4 blobs (0 already cached), 1.0 KiB of 2.0 KiB read");
  text = describe_warm_line(R"({"image":"r/app:1","event":"failed","reason":"manifest 1: HTTP 404"})");
  CHECK(text.to_stdout);
  CHECK(text.text == "r/app:1: FAILED: manifest 1: HTTP 404");
  text = describe_warm_line(R"({"event":"summary","images":2,"warmed":2,"failed":0,"bytes":0,"seconds":1.5})");
  CHECK(text.summary);
  CHECK(text.all_warmed);
  CHECK(text.text == "warmed 2 of 2 image(s), 0 failed, 0 B read in 1.5 s");
  text = describe_warm_line(R"({"event":"summary","images":2,"warmed":1,"failed":1})");
  CHECK(text.summary);
  CHECK_FALSE(text.all_warmed);
  CHECK(describe_warm_line("not json").text == "? not json");
  CHECK(describe_warm_line(R"({"event":"something new"})").text.empty());
}
