#pragma once
// Incremental HTTP/1.x parser over llhttp: the only place that knows llhttp.
//
// Body bytes are reported as views into the caller's input (no copies), de-chunked. The parser
// stops after the head, and after the end of each message, so a caller can act on the head before
// reading the body, and pipelined bytes of the next message stay in the caller's buffer.
#include "proxy/http/message.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pt::http {

struct ParserLimits {
  std::size_t max_head_bytes = 64 * 1024;  // request line + all header fields
  std::size_t max_header_count = 128;
};

enum class ParseError {
  none,
  bad_message,      // malformed syntax, invalid characters, bad chunk framing
  head_too_large,   // over max_head_bytes or max_header_count (-> 431)
  smuggling,        // conflicting framing: Transfer-Encoding with Content-Length, obs-fold, ...
  unsupported,      // e.g. Upgrade / unknown Transfer-Encoding (-> 501)
  truncated,        // EOF before the message was complete
};

class Parser {
public:
  enum class Kind { request, response };

  explicit Parser(Kind kind, ParserLimits limits = {});
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  // For a response parser: the method of the request this response answers, so that the body of a
  // response to HEAD (or a 1xx/204/304) is framed as none. Call before the response's first feed();
  // reset() forgets it, so call it again for the final response after a 1xx.
  void expect_response_to(std::string_view method);

  // Parses from the front of `input`; returns how many bytes were consumed. Stops at the end of the
  // head, at the end of the message, at the end of input, or on error. After a CONNECT request head
  // the message is complete and the bytes behind it are left unconsumed (they belong to the tunnel).
  std::size_t feed(std::string_view input);

  // The peer closed the connection. Completes an until_close body; otherwise, mid-message, fails
  // with ParseError::truncated. Returns message_complete().
  bool feed_eof();

  bool head_complete() const;
  bool message_complete() const;
  bool failed() const { return error_ != ParseError::none; }
  ParseError error() const { return error_; }
  const std::string& error_text() const { return error_text_; }

  // Valid once head_complete(), until reset().
  const RequestHead& request() const;
  const ResponseHead& response() const;
  RequestHead& request();
  ResponseHead& response();

  // The body bytes found by the last feed(), de-chunked, as views into that feed's input.
  std::span<const std::string_view> body() const { return body_; }

  // Ready for the next message on the same connection.
  void reset();

private:
  std::size_t execute(std::string_view input);
  void account_head(std::string_view head);
  void fail(ParseError error, std::string_view text);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ParseError error_ = ParseError::none;
  std::string error_text_;
  std::vector<std::string_view> body_;
  friend struct ParserCallbacks;
};

// Writes body bytes in chunked transfer coding: chunk_header(n) + data + "\r\n", then last_chunk().
std::string chunk_header(std::size_t size);
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace pt::http
