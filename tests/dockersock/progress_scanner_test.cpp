#include "dockersock/progress_scanner.hpp"

#include <catch2/catch.hpp>

using namespace pt::dockersock;

namespace {
// What the engine streams for a successful pull (one JSON object per line, \r\n).
const std::string ok_stream =
    "{\"status\":\"Pulling from library/ubuntu\",\"id\":\"18.04\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1024,\"total\":2048},\"progress\":\"[==>  ]\","
    "\"id\":\"a1b2\"}\r\n"
    "{\"status\":\"Digest: sha256:0123\"}\r\n"
    "{\"status\":\"Status: Downloaded newer image for m:5000/library/ubuntu:18.04\"}\r\n";
}  // namespace

TEST_CASE("a successful pull stream has no error, however it is split") {
  for (std::size_t step : {1u, 2u, 7u, 64u, 100000u}) {
    ProgressScanner s;
    for (std::size_t i = 0; i < ok_stream.size(); i += step) s.feed(std::string_view(ok_stream).substr(i, step));
    s.finish();
    CHECK_FALSE(s.failed());
    CHECK(s.messages() == 5);
  }
}

TEST_CASE("an error message in the stream is found, split anywhere") {
  const std::string stream = ok_stream.substr(0, 60) + ok_stream.substr(60) +
                             "{\"errorDetail\":{\"message\":\"manifest for m:5000/library/ubuntu:99 not found\"},"
                             "\"error\":\"manifest for m:5000/library/ubuntu:99 not found\"}\r\n";
  for (std::size_t step : {1u, 3u, 50u, 100000u}) {
    ProgressScanner s;
    for (std::size_t i = 0; i < stream.size(); i += step) s.feed(std::string_view(stream).substr(i, step));
    s.finish();
    REQUIRE(s.failed());
    CHECK(s.error() == "manifest for m:5000/library/ubuntu:99 not found");
  }
}

TEST_CASE("error without errorDetail, and a last line without newline") {
  ProgressScanner s;
  s.feed("{\"status\":\"x\"}\n{\"error\":\"boom\"}");
  CHECK_FALSE(s.failed());
  s.finish();
  REQUIRE(s.failed());
  CHECK(s.error() == "boom");
}

TEST_CASE("garbage and overlong lines are skipped, not fatal") {
  ProgressScanner s;
  s.feed("not json\r\n[1,2]\r\n");
  s.feed(std::string(2 << 20, 'x'));
  s.feed("\r\n{\"status\":\"ok\"}\r\n");
  s.finish();
  CHECK_FALSE(s.failed());
  CHECK(s.messages() == 1);
}
