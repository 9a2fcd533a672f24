// Fuzzes http::Parser as a connection loop drives it: requests or responses, pipelined, delivered
// once whole and once in random chunks. Invariants checked, beyond "no crash":
//   * the chunking changes nothing: both deliveries yield the same heads, bodies and outcome
//     (the kind of error included);
//   * a feed on non-empty input makes progress or changes state (a connection never spins);
//   * body views point into the fed input, and a Content-Length body has exactly that length;
//   * every accepted head is clean (token names, no CR/LF/NUL in values, within the limits) and
//     serialize() of it parses back to the same head, so the proxy never forwards what it could
//     not read itself.
#include "fuzz_check.hpp"
#include "proxy/http/codec.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pt::http::BodyFraming;
using pt::http::Parser;
using pt::http::ParserLimits;
using pt::fuzz::escaped;

constexpr std::size_t kMaxMessages = 16;

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string framing_name(BodyFraming framing) {
  switch (framing) {
    case BodyFraming::none: return "none";
    case BodyFraming::content_length: return "length";
    case BodyFraming::chunked: return "chunked";
    case BodyFraming::until_close: return "close";
  }
  return "?";
}

void check_headers(const pt::http::Headers& headers, const ParserLimits& limits) {
  FUZZ_CHECK(headers.size() <= limits.max_header_count);
  for (const auto& field : headers) {
    FUZZ_CHECK_MSG(!field.name.empty() && std::all_of(field.name.begin(), field.name.end(), is_tchar),
                   escaped(field.name));
    const bool clean_value = std::none_of(field.value.begin(), field.value.end(),
                                          [](char c) { return c == '\0' || c == '\r' || c == '\n'; });
    FUZZ_CHECK_MSG(clean_value, escaped(field.value));
    const bool trimmed = field.value.empty() ||
        (field.value.front() != ' ' && field.value.front() != '\t' && field.value.back() != ' ' &&
         field.value.back() != '\t');
    FUZZ_CHECK_MSG(trimmed, escaped(field.value));
  }
}

template <class Head>
std::string describe_common(const Head& head) {
  std::string out = "1." + std::to_string(head.version_minor) + " " + framing_name(head.framing) + " " +
                    std::to_string(head.content_length) + (head.keep_alive ? " keep" : " close");
  for (const auto& field : head.headers) out += "\n" + field.name + ": " + field.value;
  return out;
}

std::string describe(const pt::http::RequestHead& head) {
  return head.method + " " + head.target + " " + describe_common(head);
}

std::string describe(const pt::http::ResponseHead& head) {
  return std::to_string(head.status) + " " + head.reason + " " + describe_common(head);
}

template <class Head>
void check_framing(const Head& head) {
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
  if (head.framing == BodyFraming::content_length) FUZZ_CHECK(head.headers.contains("Content-Length"));
  if (head.framing != BodyFraming::content_length) FUZZ_CHECK(head.content_length == 0 || head.framing == BodyFraming::none);
  if (head.framing == BodyFraming::chunked) {
    FUZZ_CHECK(head.headers.contains("Transfer-Encoding"));
    FUZZ_CHECK(!head.headers.contains("Content-Length"));
  }
  if (head.framing == BodyFraming::until_close) FUZZ_CHECK(!head.keep_alive);
}

// serialize() of an accepted head must parse back to the same head.
void check_round_trip(Parser::Kind kind, const std::string& method, const Parser& parsed) {
  Parser again(kind);
  std::string wire;
  std::string expected;
  if (kind == Parser::Kind::request) {
    wire = pt::http::serialize(parsed.request());
    expected = describe(parsed.request());
  } else {
    again.expect_response_to(method);
    // serialize() writes the standard phrase for an empty reason, by design.
    auto head = parsed.response();
    if (head.reason.empty()) head.reason = std::string(pt::http::reason_phrase(head.status));
    wire = pt::http::serialize(head);
    expected = describe(head);
  }
  const std::size_t consumed = again.feed(wire);
  FUZZ_CHECK_MSG(again.head_complete(), escaped(wire) + " -> " + again.error_text());
  FUZZ_CHECK(consumed == wire.size());
  const std::string actual = kind == Parser::Kind::request ? describe(again.request()) : describe(again.response());
  FUZZ_CHECK_MSG(actual == expected, escaped(expected) + " != " + escaped(actual));
}

struct Setup {
  Parser::Kind kind = Parser::Kind::request;
  std::string method;  // for responses: the request method they answer
  ParserLimits limits;
};

// Drives one parser over `data` delivered in pieces of the given sizes (the last repeats), like a
// connection's read loop with a buffer of unconsumed bytes. Returns the observed events.
std::vector<std::string> run(const Setup& setup, std::string_view data, const std::vector<std::size_t>& pieces) {
  std::vector<std::string> events;
  Parser parser(setup.kind, setup.limits);
  if (setup.kind == Parser::Kind::response) parser.expect_response_to(setup.method);
  std::string buffer;
  std::string body;
  std::size_t offset = 0;
  std::size_t piece = 0;
  std::size_t messages = 0;
  bool head_seen = false;

  const auto head_summary = [&] {
    return setup.kind == Parser::Kind::request ? describe(parser.request()) : describe(parser.response());
  };
  const auto framing = [&] {
    return setup.kind == Parser::Kind::request ? parser.request().framing : parser.response().framing;
  };
  const auto content_length = [&] {
    return setup.kind == Parser::Kind::request ? parser.request().content_length : parser.response().content_length;
  };

  for (;;) {
    const bool head_before = parser.head_complete();
    const std::size_t consumed = parser.feed(buffer);
    FUZZ_CHECK(consumed <= buffer.size());
    for (const auto view : parser.body()) {
      FUZZ_CHECK(view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size());
      body.append(view);
    }
    if (parser.failed()) {
      FUZZ_CHECK(!parser.error_text().empty());
      FUZZ_CHECK(!parser.head_complete() && !parser.message_complete());
      // The kind too: it decides the status (400, 431, 501) and must not depend on the reads.
      events.push_back("error " + std::to_string(static_cast<int>(parser.error())));
      return events;
    }
    buffer.erase(0, consumed);

    if (parser.head_complete() && !head_seen) {
      head_seen = true;
      if (setup.kind == Parser::Kind::request) {
        const auto& head = parser.request();
        FUZZ_CHECK(!head.method.empty() && std::all_of(head.method.begin(), head.method.end(), is_tchar));
        FUZZ_CHECK(!head.target.empty());
        FUZZ_CHECK(std::none_of(head.target.begin(), head.target.end(),
                                [](char c) { return c == '\0' || c == '\r' || c == '\n' || c == ' '; }));
        check_headers(head.headers, setup.limits);
        check_framing(head);
      } else {
        const auto& head = parser.response();
        FUZZ_CHECK(head.status >= 100 && head.status <= 999 && head.status != 101);
        check_headers(head.headers, setup.limits);
        check_framing(head);
      }
      check_round_trip(setup.kind, setup.method, parser);
      events.push_back("head " + head_summary());
    }

    if (parser.message_complete()) {
      const auto f = framing();
      if (f == BodyFraming::none) FUZZ_CHECK(body.empty());
      if (f == BodyFraming::content_length) FUZZ_CHECK(body.size() == content_length());
      FUZZ_CHECK(f != BodyFraming::until_close);  // that one ends only with feed_eof()
      events.push_back("body " + body);
      body.clear();
      const bool tunnel = setup.kind == Parser::Kind::request
                              ? parser.request().method == "CONNECT"
                              : setup.method == "CONNECT" && parser.response().status / 100 == 2;
      if (tunnel || ++messages == kMaxMessages) return events;  // the rest is not HTTP
      parser.reset();
      head_seen = false;
      if (setup.kind == Parser::Kind::response) parser.expect_response_to(setup.method);
      continue;
    }

    if (consumed > 0 || parser.head_complete() != head_before) continue;
    // No progress: the parser needs more input.
    FUZZ_CHECK_MSG(buffer.empty() || parser.head_complete(), "stalled on " + escaped(buffer));
    FUZZ_CHECK_MSG(buffer.empty(), "stalled in a body on " + escaped(buffer));
    if (offset == data.size()) {
      const bool complete = parser.feed_eof();
      if (complete) {
        FUZZ_CHECK(framing() == BodyFraming::until_close);
        events.push_back("body " + body + " (eof)");
      } else {
        events.push_back(parser.failed() ? "error " + std::to_string(static_cast<int>(parser.error())) : "eof");
      }
      return events;
    }
    const std::size_t size = std::min(pieces[std::min(piece++, pieces.size() - 1)], data.size() - offset);
    buffer.append(data.substr(offset, size));
    offset += size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider provider(bytes, size);
  static constexpr std::array<const char*, 5> methods = {"GET", "HEAD", "CONNECT", "POST", "PUT"};
  Setup setup;
  const auto flags = provider.ConsumeIntegral<std::uint8_t>();
  setup.kind = (flags & 1) ? Parser::Kind::response : Parser::Kind::request;
  setup.method = methods[(flags >> 1) % methods.size()];
  // Small limits, so that the fuzzer reaches them.
  setup.limits.max_head_bytes = 32 + provider.ConsumeIntegralInRange<std::size_t>(0, 4096);
  setup.limits.max_header_count = 1 + provider.ConsumeIntegralInRange<std::size_t>(0, 40);
  std::minstd_rand random(provider.ConsumeIntegral<std::uint32_t>());
  const std::size_t max_piece = 1 + provider.ConsumeIntegralInRange<std::size_t>(0, 64);
  const std::string data = provider.ConsumeRemainingBytesAsString();

  std::vector<std::size_t> pieces;
  for (std::size_t total = 0; total < data.size();) {
    pieces.push_back(1 + random() % max_piece);
    total += pieces.back();
  }
  if (pieces.empty()) pieces.push_back(1);

  const auto whole = run(setup, data, {data.size() + 1});
  const auto chunked = run(setup, data, pieces);
  if (whole != chunked) {
    std::string diff;
    for (std::size_t i = 0; i < std::max(whole.size(), chunked.size()); ++i) {
      diff += "\n  whole:   " + (i < whole.size() ? escaped(whole[i]) : "-");
      diff += "\n  chunked: " + (i < chunked.size() ? escaped(chunked[i]) : "-");
    }
    FUZZ_CHECK_MSG(whole == chunked, diff);
  }
  return 0;
}
