#include "proxy/http/codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <random>
#include <string>

using namespace pt::http;
using namespace std::string_literals;

namespace {

// What a connection made of one message, and how far it read.
struct Outcome {
  std::size_t consumed = 0;
  std::string body;
};

// Feeds `wire` the way reads off a socket would arrive: `next_read()` bytes at a time, with the
// bytes the parser left unconsumed kept at the front of the next feed. Stops when the message is
// complete, on error, or when the wire runs out.
Outcome feed_reads(Parser& parser, std::string_view wire, const std::function<std::size_t()>& next_read) {
  Outcome out;
  std::size_t received = 0;
  while (!parser.failed() && !parser.message_complete()) {
    if (out.consumed == received) {
      if (received == wire.size()) break;
      received = std::min(wire.size(), received + std::max<std::size_t>(1, next_read()));
    }
    const auto input = wire.substr(out.consumed, received - out.consumed);
    const auto consumed = parser.feed(input);
    REQUIRE(consumed <= input.size());
    for (const auto piece : parser.body()) {
      // Body bytes are views into the input, never copies.
      REQUIRE(piece.data() >= input.data());
      REQUIRE(piece.data() + piece.size() <= input.data() + input.size());
      out.body.append(piece);
    }
    out.consumed += consumed;
    if (consumed == 0 && !parser.failed() && !parser.message_complete()) {
      if (received == wire.size()) break;
      received = std::min(wire.size(), received + std::max<std::size_t>(1, next_read()));
    }
  }
  return out;
}

Outcome feed_whole(Parser& parser, std::string_view wire) {
  return feed_reads(parser, wire, [&] { return wire.size(); });
}

Outcome feed_bytewise(Parser& parser, std::string_view wire) {
  return feed_reads(parser, wire, [] { return std::size_t{1}; });
}

std::string describe(const Headers& headers) {
  std::string out;
  for (const auto& field : headers) out += "[" + field.name + ": " + field.value + "]";
  return out;
}

// Everything a parser found, as one string, so two runs compare in one CHECK.
std::string describe(const Parser& parser, const Outcome& outcome, Parser::Kind kind) {
  std::string out = "consumed=" + std::to_string(outcome.consumed) + " body=" + outcome.body +
                    " head=" + std::to_string(parser.head_complete()) +
                    " complete=" + std::to_string(parser.message_complete()) +
                    " error=" + std::to_string(static_cast<int>(parser.error())) + "\n";
  if (!parser.head_complete()) return out;
  const auto common = [&](const auto& head) {
    return " minor=" + std::to_string(head.version_minor) +
           " framing=" + std::to_string(static_cast<int>(head.framing)) +
           " length=" + std::to_string(head.content_length) +
           " keep_alive=" + std::to_string(head.keep_alive) + " " + describe(head.headers);
  };
  if (kind == Parser::Kind::request) {
    const auto& head = parser.request();
    return out + head.method + " " + head.target + common(head);
  }
  const auto& head = parser.response();
  return out + std::to_string(head.status) + " " + head.reason + common(head);
}

const std::string get_request =
    "GET /v2/library/alpine/manifests/latest HTTP/1.1\r\n"
    "Host: registry-1.docker.io\r\n"
    "Accept: application/vnd.oci.image.index.v1+json\r\n"
    "X-Empty:\r\n"
    "X-Spaces:   padded value  \r\n"
    "\r\n";

const std::string post_request =
    "POST /v2/x/blobs/uploads/ HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";

const std::string chunked_request =
    "PUT /v2/x/blobs/uploads/1 HTTP/1.1\r\n"
    "Host: h\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;ext=1\r\nhello\r\n"
    "1\r\n \r\n"
    "5;name=\"quoted value\"\r\nworld\r\n"
    "0\r\n"
    "X-Trailer: t\r\n"
    "\r\n";

const std::string length_response =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

const std::string chunked_response =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "a\r\n0123456789\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";

ParseError request_error(const std::string& wire) {
  Parser parser(Parser::Kind::request);
  feed_whole(parser, wire);
  if (parser.failed()) CHECK_FALSE(parser.error_text().empty());
  return parser.error();
}

ParseError response_error(const std::string& wire) {
  Parser parser(Parser::Kind::response);
  feed_whole(parser, wire);
  if (parser.failed()) CHECK_FALSE(parser.error_text().empty());
  return parser.error();
}

}  // namespace

TEST_CASE("a GET request parses into its head") {
  Parser parser(Parser::Kind::request);
  const auto outcome = feed_whole(parser, get_request);

  REQUIRE(parser.message_complete());
  CHECK(outcome.consumed == get_request.size());
  const auto& head = parser.request();
  CHECK(head.method == "GET");
  CHECK(head.target == "/v2/library/alpine/manifests/latest");
  CHECK(head.version_minor == 1);
  CHECK(head.framing == BodyFraming::none);
  CHECK(head.keep_alive);
  CHECK(head.headers.get("host") == "registry-1.docker.io");
  CHECK(head.headers.get("X-Empty") == "");
  CHECK(head.headers.get("x-spaces") == "padded value");
  REQUIRE(head.headers.size() == 4);
  CHECK(head.headers.fields()[1].name == "Accept");
}

TEST_CASE("fed byte by byte or in random pieces, a message parses as when fed whole") {
  struct Case {
    Parser::Kind kind;
    std::string wire;
  };
  const auto [kind, wire] = GENERATE(values<Case>({
      {Parser::Kind::request, get_request},
      {Parser::Kind::request, post_request},
      {Parser::Kind::request, chunked_request},
      {Parser::Kind::request, "CONNECT registry:443 HTTP/1.1\r\nHost: registry:443\r\n\r\n\x16\x03\x01"},
      {Parser::Kind::response, length_response},
      {Parser::Kind::response, chunked_response},
      {Parser::Kind::response, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"},
      {Parser::Kind::response, "HTTP/1.0 200 OK\r\n\r\nuntil the end"},
  }));
  Parser whole(kind);
  const auto expected = describe(whole, feed_whole(whole, wire), kind);
  REQUIRE(whole.error() == ParseError::none);

  Parser bytewise(kind);
  CHECK(describe(bytewise, feed_bytewise(bytewise, wire), kind) == expected);

  std::mt19937 random(7);
  for (int i = 0; i < 50; ++i) {
    Parser pieces(kind);
    const auto outcome = feed_reads(pieces, wire, [&] { return random() % 9 + 1; });
    CHECK(describe(pieces, outcome, kind) == expected);
  }
}

TEST_CASE("keep-alive follows the HTTP version and Connection") {
  const auto keep_alive = [](const std::string& wire) {
    Parser parser(Parser::Kind::request);
    feed_whole(parser, wire);
    REQUIRE(parser.message_complete());
    return parser.request().keep_alive;
  };
  CHECK(keep_alive("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.1\r\nConnection: te, Close\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n"));
  CHECK(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));

  Parser response(Parser::Kind::response);
  feed_whole(response, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(response.message_complete());
  CHECK_FALSE(response.response().keep_alive);
}

TEST_CASE("the parser stops after the head, before the body") {
  Parser parser(Parser::Kind::request);
  const auto head_size = post_request.find("\r\n\r\n") + 4;

  CHECK(parser.feed(post_request) == head_size);
  CHECK(parser.head_complete());
  CHECK_FALSE(parser.message_complete());
  CHECK(parser.body().empty());
  CHECK(parser.request().framing == BodyFraming::content_length);
  CHECK(parser.request().content_length == 11);

  const std::string_view rest = std::string_view(post_request).substr(head_size);
  CHECK(parser.feed(rest.substr(0, 6)) == 6);
  REQUIRE(parser.body().size() == 1);
  CHECK(parser.body()[0] == "hello ");
  CHECK(parser.body()[0].data() == rest.data());
  CHECK(parser.feed(rest.substr(6)) == 5);
  CHECK(parser.message_complete());
  REQUIRE(parser.body().size() == 1);
  CHECK(parser.body()[0] == "world");

  // Once complete, nothing more is consumed until reset().
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n") == 0);
  CHECK(parser.body().empty());
}

TEST_CASE("chunked bodies are de-chunked; extensions and trailers are skipped") {
  Parser parser(Parser::Kind::request);
  const auto outcome = feed_whole(parser, chunked_request);
  REQUIRE(parser.message_complete());
  CHECK(outcome.consumed == chunked_request.size());
  CHECK(outcome.body == "hello world");
  CHECK(parser.request().framing == BodyFraming::chunked);
  CHECK_FALSE(parser.request().headers.contains("X-Trailer"));

  Parser response(Parser::Kind::response);
  CHECK(feed_whole(response, chunked_response).body == "0123456789" "0123456789abcdef");
  CHECK(response.message_complete());
}

TEST_CASE("pipelined requests are consumed one message at a time") {
  const std::string second = "GET /second HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string third = "DELETE /third HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string wire = get_request + post_request + second + third;
  Parser parser(Parser::Kind::request);

  std::string_view rest = wire;
  std::size_t consumed = parser.feed(rest);
  CHECK(consumed == get_request.size());
  CHECK(parser.message_complete());
  rest.remove_prefix(consumed);

  parser.reset();
  CHECK_FALSE(parser.head_complete());
  const auto post = feed_whole(parser, rest);
  CHECK(post.consumed == post_request.size());
  CHECK(post.body == "hello world");
  CHECK(parser.request().method == "POST");
  rest.remove_prefix(post.consumed);

  parser.reset();
  consumed = parser.feed(rest);
  CHECK(consumed == second.size());
  CHECK(parser.request().target == "/second");
  CHECK(parser.request().headers.size() == 1);
  rest.remove_prefix(consumed);

  parser.reset();
  CHECK(parser.feed(rest) == third.size());
  CHECK(parser.request().method == "DELETE");
  CHECK(parser.message_complete());
}

TEST_CASE("a response to HEAD has no body but reports its Content-Length") {
  const std::string head_response = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  const std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string wire = head_response + next;
  Parser parser(Parser::Kind::response);
  parser.expect_response_to("HEAD");

  CHECK(parser.feed(wire) == head_response.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.response().framing == BodyFraming::none);
  CHECK(parser.response().content_length == 1234);
  CHECK(parser.response().keep_alive);
  CHECK(parser.body().empty());

  parser.reset();  // also forgets the HEAD
  const auto outcome = feed_whole(parser, std::string_view(wire).substr(head_response.size()));
  CHECK(outcome.body == "ok");
  CHECK(parser.response().framing == BodyFraming::content_length);
}

TEST_CASE("a HEAD response without Content-Length is complete at the end of its head") {
  Parser parser(Parser::Kind::response);
  parser.expect_response_to("HEAD");
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(parser.feed(wire) == wire.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.response().framing == BodyFraming::none);
  CHECK(parser.response().keep_alive);
}

TEST_CASE("204 and 304 responses have no body") {
  const auto status = GENERATE(204, 304);
  const std::string head =
      "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 10\r\nETag: \"e\"\r\n\r\n";
  Parser parser(Parser::Kind::response);
  CHECK(parser.feed(head + "HTTP/1.1 200 OK\r\n") == head.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.response().status == status);
  CHECK(parser.response().framing == BodyFraming::none);
  CHECK(parser.response().keep_alive);
}

TEST_CASE("a 100 Continue completes on its own; the real response follows after reset()") {
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string wire = interim + length_response;
  Parser parser(Parser::Kind::response);
  CHECK(parser.feed(wire) == interim.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.response().status == 100);
  CHECK(parser.response().framing == BodyFraming::none);

  parser.reset();
  const auto outcome = feed_whole(parser, std::string_view(wire).substr(interim.size()));
  CHECK(outcome.body == "{}");
  CHECK(parser.response().status == 200);
  CHECK(parser.response().reason == "OK");
}

TEST_CASE("a body delimited by the connection ends with feed_eof()") {
  Parser parser(Parser::Kind::response);
  const auto outcome = feed_whole(parser, "HTTP/1.1 200 OK\r\nServer: s\r\n\r\nabc");
  CHECK(outcome.body == "abc");
  REQUIRE(parser.head_complete());
  CHECK(parser.response().framing == BodyFraming::until_close);
  CHECK_FALSE(parser.response().keep_alive);
  CHECK_FALSE(parser.message_complete());

  CHECK(parser.feed_eof());
  CHECK(parser.message_complete());
  CHECK_FALSE(parser.failed());
}

TEST_CASE("an until_close body may be empty") {
  Parser parser(Parser::Kind::response);
  feed_whole(parser, "HTTP/1.0 200 OK\r\n\r\n");
  REQUIRE(parser.head_complete());
  CHECK(parser.feed_eof());
}

TEST_CASE("EOF mid-message is truncation; EOF between messages is not") {
  SECTION("in a Content-Length body") {
    Parser parser(Parser::Kind::response);
    feed_whole(parser, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    CHECK_FALSE(parser.feed_eof());
    CHECK(parser.error() == ParseError::truncated);
    CHECK_FALSE(parser.error_text().empty());
  }
  SECTION("in a chunked body") {
    Parser parser(Parser::Kind::response);
    feed_whole(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    CHECK_FALSE(parser.feed_eof());
    CHECK(parser.error() == ParseError::truncated);
  }
  SECTION("in the head") {
    Parser parser(Parser::Kind::request);
    feed_whole(parser, "GET / HTTP/1.1\r\nHost:");
    CHECK_FALSE(parser.feed_eof());
    CHECK(parser.error() == ParseError::truncated);
  }
  SECTION("before any message") {
    Parser parser(Parser::Kind::request);
    CHECK_FALSE(parser.feed_eof());
    CHECK_FALSE(parser.failed());
  }
  SECTION("after a complete message") {
    Parser parser(Parser::Kind::request);
    feed_whole(parser, get_request);
    CHECK(parser.feed_eof());
    parser.reset();
    CHECK_FALSE(parser.feed_eof());
    CHECK_FALSE(parser.failed());
  }
}

TEST_CASE("a CONNECT head leaves the tunnel's bytes unconsumed") {
  const std::string head = "CONNECT registry-1.docker.io:443 HTTP/1.1\r\nHost: registry-1.docker.io:443\r\n\r\n";
  const std::string wire = head + "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s;
  Parser parser(Parser::Kind::request);
  CHECK(parser.feed(wire) == head.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.request().method == "CONNECT");
  CHECK(parser.request().target == "registry-1.docker.io:443");
  CHECK(parser.request().framing == BodyFraming::none);
  CHECK(parser.feed(std::string_view(wire).substr(head.size())) == 0);
}

TEST_CASE("a 2xx response to CONNECT leaves the tunnel's bytes unconsumed") {
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  Parser parser(Parser::Kind::response);
  parser.expect_response_to("CONNECT");
  CHECK(parser.feed(head + "\x16\x03\x03") == head.size());
  REQUIRE(parser.message_complete());
  CHECK(parser.response().framing == BodyFraming::none);
}

TEST_CASE("a head larger than the limit is refused") {
  const ParserLimits limits{.max_head_bytes = 100, .max_header_count = 128};
  const std::string line = "GET / HTTP/1.1\r\n";

  SECTION("just within") {
    const std::string wire = line + "X: " + std::string(100 - line.size() - 7, 'a') + "\r\n\r\n";
    REQUIRE(wire.size() == 100);
    Parser parser(Parser::Kind::request, limits);
    feed_bytewise(parser, wire);
    CHECK(parser.message_complete());
  }
  SECTION("one byte over, whole or byte by byte") {
    const std::string wire = line + "X: " + std::string(100 - line.size() - 6, 'a') + "\r\n\r\n";
    Parser whole(Parser::Kind::request, limits);
    feed_whole(whole, wire);
    CHECK(whole.error() == ParseError::head_too_large);
    Parser bytewise(Parser::Kind::request, limits);
    feed_bytewise(bytewise, wire);
    CHECK(bytewise.error() == ParseError::head_too_large);
  }
  SECTION("a head that never ends costs no more than the limit") {
    Parser parser(Parser::Kind::request, limits);
    const std::string endless = line + "X: " + std::string(1 << 20, 'a');
    CHECK(parser.feed(endless) <= limits.max_head_bytes);
    CHECK(parser.error() == ParseError::head_too_large);
  }
  SECTION("the body does not count") {
    Parser parser(Parser::Kind::request, limits);
    const std::string wire =
        "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b');
    CHECK(feed_whole(parser, wire).body.size() == 1000);
    CHECK(parser.message_complete());
  }
}

TEST_CASE("more header fields than the limit are refused") {
  const ParserLimits limits{.max_head_bytes = 65536, .max_header_count = 3};
  Parser three(Parser::Kind::request, limits);
  feed_whole(three, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  CHECK(three.message_complete());

  Parser four(Parser::Kind::request, limits);
  feed_bytewise(four, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  CHECK(four.error() == ParseError::head_too_large);
}

TEST_CASE("conflicting or ambiguous framing is refused as smuggling") {
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(response_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") ==
        ParseError::smuggling);
  // Even an identical duplicate: llhttp refuses it, and nothing legitimate sends one.
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n") == ParseError::smuggling);
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n") == ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
        ParseError::smuggling);
  // "chunked" then a tab: llhttp would read the body to the connection's end, a next hop as
  // chunked (found by http_codec_fuzz).
  CHECK(response_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n") ==
        ParseError::smuggling);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\t\r\n\r\n0\r\n\r\n") !=
        ParseError::none);
}

TEST_CASE("whitespace between a field name and its colon is refused") {
  for (const auto* name : {"Host", "Content-Length", "Transfer-Encoding", "X-Other"}) {
    const auto error =
        request_error("POST / HTTP/1.1\r\n"s + name + " : 1\r\nContent-Length: 0\r\n\r\n");
    CHECK((error == ParseError::smuggling || error == ParseError::bad_message));
  }
}

TEST_CASE("bare LF, NUL and CR in a head are refused") {
  CHECK(request_error("GET / HTTP/1.1\nHost: h\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: h\r\n\n") == ParseError::bad_message);
  CHECK(request_error("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == ParseError::bad_message);
  CHECK(response_error("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n"s) == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n"s) == ParseError::bad_message);

  // A bare LF split across feeds is still seen.
  Parser parser(Parser::Kind::request);
  CHECK(parser.feed("GET / HTTP/1.1\r\nHost: h\r\n") > 0);
  parser.feed("\n");
  CHECK(parser.error() == ParseError::bad_message);
}

TEST_CASE("transfer codings other than chunked are unsupported") {
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == ParseError::unsupported);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") ==
        ParseError::unsupported);
  CHECK(response_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == ParseError::unsupported);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") == ParseError::none);
}

TEST_CASE("protocol switches and other HTTP versions are unsupported") {
  CHECK(request_error("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n") ==
        ParseError::unsupported);
  CHECK(response_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n") ==
        ParseError::unsupported);
  CHECK(request_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == ParseError::unsupported);
  CHECK(request_error("GET / HTTP/2.0\r\n\r\n") == ParseError::unsupported);
  CHECK(request_error("GET / HTTP/0.9\r\n\r\n") != ParseError::none);
}

TEST_CASE("malformed messages are bad_message") {
  CHECK(request_error("GET /a b HTTP/1.1\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1 extra\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("FROB / HTTP/1.1\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == ParseError::bad_message);
  CHECK(request_error("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n") ==
        ParseError::bad_message);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") ==
        ParseError::bad_message);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n") ==
        ParseError::bad_message);
  CHECK(response_error("HTTP/1.1 099 Too Low\r\n\r\n") == ParseError::bad_message);
  CHECK(response_error("HTTP/1.1 2000 OK\r\n\r\n") == ParseError::bad_message);
  CHECK(response_error("HTTP/1.1 OK\r\n\r\n") == ParseError::bad_message);
}

TEST_CASE("garbage is refused, not crashed on") {
  SECTION("a TLS ClientHello sent as a plain request") {
    const auto hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x9a\x4f\x00\x00"s;
    CHECK(request_error(hello) == ParseError::bad_message);
    CHECK(response_error(hello) == ParseError::bad_message);
  }
  SECTION("random bytes") {
    std::mt19937 random(42);
    for (int i = 0; i < 500; ++i) {
      std::string junk(random() % 200 + 1, '\0');
      for (auto& c : junk) c = static_cast<char>(random());
      for (const auto kind : {Parser::Kind::request, Parser::Kind::response}) {
        Parser parser(kind);
        feed_reads(parser, junk, [&] { return random() % 16 + 1; });
        parser.feed_eof();
        CHECK((parser.failed() || parser.message_complete() || !parser.head_complete()));
      }
    }
  }
}

TEST_CASE("a parser keeps parsing after it was moved") {
  Parser parser(Parser::Kind::request);
  const auto head_size = post_request.find("\r\n\r\n") + 4;
  REQUIRE(parser.feed(post_request) == head_size);

  Parser moved(std::move(parser));
  CHECK(moved.feed(std::string_view(post_request).substr(head_size)) == 11);
  CHECK(moved.message_complete());
  REQUIRE(moved.body().size() == 1);
  CHECK(moved.body()[0] == "hello world");
}

TEST_CASE("random mutations of valid messages, fed in random pieces, never crash") {
  const std::vector<std::pair<Parser::Kind, std::string>> seeds = {
      {Parser::Kind::request, get_request + post_request},
      {Parser::Kind::request, chunked_request + get_request},
      {Parser::Kind::request, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01"},
      {Parser::Kind::response, length_response + chunked_response},
      {Parser::Kind::response, "HTTP/1.1 100 Continue\r\n\r\n" + length_response},
      {Parser::Kind::response, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody"},
  };
  const std::string alphabet = "\r\n :;,\t\0\x80\xff"s + "0123456789abcdefABCDEF-/\"HTTP/1.1chunked";
  std::mt19937 random(2024);
  const auto pick = [&](std::size_t n) { return n == 0 ? 0 : random() % n; };

  for (int round = 0; round < 4000; ++round) {
    const auto& [kind, seed] = seeds[pick(seeds.size())];
    std::string wire = seed;
    for (int m = 0, mutations = 1 + pick(4); m < mutations; ++m) {
      const auto at = pick(wire.size());
      switch (pick(5)) {
        case 0: wire[at] = alphabet[pick(alphabet.size())]; break;
        case 1: wire.insert(at, 1, alphabet[pick(alphabet.size())]); break;
        case 2: wire.erase(at, 1 + pick(8)); break;
        case 3: wire.insert(at, wire.substr(pick(wire.size()), pick(16))); break;
        default: wire[at] = static_cast<char>(random()); break;
      }
    }

    Parser parser(kind, {.max_head_bytes = 256, .max_header_count = 8});
    std::string_view rest = wire;
    // Parse message after message, as a connection would, until the bytes or the parser give out.
    for (int messages = 0; messages < 8 && !rest.empty(); ++messages) {
      const auto outcome = feed_reads(parser, rest, [&] { return 1 + pick(24); });
      REQUIRE(outcome.consumed <= rest.size());
      rest.remove_prefix(outcome.consumed);
      if (!parser.message_complete()) break;
      parser.reset();
    }
    parser.feed_eof();
  }
  SUCCEED("no crash");
}

TEST_CASE("chunk headers are hex sizes") {
  CHECK(chunk_header(0) == "0\r\n");
  CHECK(chunk_header(10) == "a\r\n");
  CHECK(chunk_header(255) == "ff\r\n");
  CHECK(chunk_header(65536) == "10000\r\n");
  CHECK(chunk_header(SIZE_MAX) == "ffffffffffffffff\r\n");
  CHECK(last_chunk == "0\r\n\r\n");

  // What chunk_header() writes, the parser reads back.
  const std::string body(300, 'z');
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_header(body.size()) +
                           body + "\r\n" + std::string(last_chunk);
  Parser parser(Parser::Kind::response);
  CHECK(feed_whole(parser, wire).body == body);
  CHECK(parser.message_complete());
}
