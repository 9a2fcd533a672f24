#include "proxy/http/codec.hpp"

#include <llhttp.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <optional>

namespace pt::http {

namespace {

// A verdict on bad input, found by the codec itself rather than by llhttp.
struct Failure {
  ParseError error;
  const char* text;
};

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 section 5.6.2.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<Failure> check_field_name(std::string_view name) {
  // llhttp in loose mode takes "Transfer-Encoding : chunked" as a field named "Transfer-Encoding ",
  // which is how one hop sees a framing header that the next hop ignores.
  if (std::ranges::any_of(name, is_ows)) return Failure{ParseError::smuggling, "whitespace before colon"};
  if (name.empty() || !std::ranges::all_of(name, is_tchar)) {
    return Failure{ParseError::bad_message, "invalid header field name"};
  }
  return std::nullopt;
}

std::optional<Failure> check_field_value(std::string_view value) {
  // llhttp already refuses these; a value is copied into the next hop's head, where any of them
  // would end the line early, so the codec does not depend on that alone.
  const auto forbidden = [](char c) { return c == '\0' || c == '\r' || c == '\n'; };
  if (std::ranges::any_of(value, forbidden)) {
    return Failure{ParseError::bad_message, "invalid character in header value"};
  }
  return std::nullopt;
}

std::string_view trim_trailing_ows(std::string_view text) {
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

// llhttp (8.1, strict mode or not) accepts a bare LF ending the start line or the head, and
// continuation lines (obs-fold). RFC 9112 lets a recipient reject both, and parsers disagree about
// them, which is what request smuggling feeds on. `previous` carries the last byte across feeds.
std::optional<Failure> check_line_breaks(std::string_view head, char& previous) {
  for (const char c : head) {
    if (c == '\n' && previous != '\r') return Failure{ParseError::bad_message, "bare LF line ending"};
    if (previous == '\n' && is_ows(c)) return Failure{ParseError::smuggling, "obs-fold line folding"};
    previous = c;
  }
  return std::nullopt;
}

// A message's transfer codings must be exactly "chunked": the proxy forwards bodies de-chunked,
// which would silently strip any other coding (and a request's length is undeterminable without
// chunked last, RFC 9112 section 6.3).
bool only_chunked(const Headers& headers) {
  int codings = 0;
  for (const auto& field : headers) {
    if (!iequals(field.name, "Transfer-Encoding")) continue;
    std::string_view list = field.value;
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      while (!coding.empty() && is_ows(coding.front())) coding.remove_prefix(1);
      coding = trim_trailing_ows(coding);
      if (!coding.empty()) {
        if (!iequals(coding, "chunked")) return false;
        ++codings;
      }
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    }
  }
  return codings == 1;
}

std::optional<Failure> check_framing_fields(const llhttp_t& p, const Headers& headers) {
  if (!(p.flags & F_TRANSFER_ENCODING)) return std::nullopt;
  if (p.flags & F_CONTENT_LENGTH) {
    return Failure{ParseError::smuggling, "Transfer-Encoding with Content-Length"};
  }
  // RFC 9112 section 6.1: an HTTP/1.0 recipient may not know chunked, so its framing is faulty.
  if (p.http_minor == 0) return Failure{ParseError::smuggling, "Transfer-Encoding in HTTP/1.0"};
  if (!only_chunked(headers)) {
    return Failure{ParseError::unsupported, "transfer coding other than chunked"};
  }
  // llhttp takes "chunked" followed by a tab for another coding (no F_CHUNKED) and would read the
  // body up to the connection's end, where our reading (and the next hop's) says chunked: a
  // message the two ends would frame differently is refused (found by http_codec_fuzz).
  if (!(p.flags & F_CHUNKED)) return Failure{ParseError::smuggling, "Transfer-Encoding not read as chunked"};
  return std::nullopt;
}

std::optional<Failure> check_start_line(const llhttp_t& p) {
  if (p.http_major != 1) return Failure{ParseError::unsupported, "HTTP version not supported"};
  if (p.type == HTTP_REQUEST) {
    // llhttp would hand the connection over after the head; the proxy speaks no other protocol.
    if (p.upgrade && p.method != HTTP_CONNECT) {
      return Failure{ParseError::unsupported, "protocol upgrade not supported"};
    }
    return std::nullopt;
  }
  if (p.status_code < 100) return Failure{ParseError::bad_message, "invalid status code"};
  if (p.status_code == 101) return Failure{ParseError::unsupported, "protocol switch not supported"};
  return std::nullopt;
}

// RFC 9112 section 6.3, rules 1, 2 and 7 for responses; 3 to 6 are the flags llhttp has checked.
BodyFraming response_framing(const llhttp_t& p, std::string_view request_method) {
  const int status = p.status_code;
  if (request_method == "HEAD" || status / 100 == 1 || status == 204 || status == 304) {
    return BodyFraming::none;
  }
  // A 2xx to CONNECT turns the connection into a tunnel right after the head.
  if (request_method == "CONNECT" && status / 100 == 2) return BodyFraming::none;
  if (p.flags & F_CHUNKED) return BodyFraming::chunked;
  if (p.flags & F_CONTENT_LENGTH) return BodyFraming::content_length;
  return BodyFraming::until_close;
}

BodyFraming request_framing(const llhttp_t& p) {
  // Whatever follows a CONNECT head belongs to the tunnel.
  if (p.method == HTTP_CONNECT) return BodyFraming::none;
  if (p.flags & F_CHUNKED) return BodyFraming::chunked;
  if (p.flags & F_CONTENT_LENGTH) return BodyFraming::content_length;
  return BodyFraming::none;
}

// RFC 9112 section 9.3. This is llhttp_should_keep_alive() without its body check, which cannot
// see yet that a response to HEAD has no body; the caller adds the until_close case.
bool connection_persists(const llhttp_t& p) {
  if (p.http_minor >= 1) return !(p.flags & F_CONNECTION_CLOSE);
  return (p.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

bool body_follows(BodyFraming framing, std::uint64_t content_length) {
  if (framing == BodyFraming::none) return false;
  return framing != BodyFraming::content_length || content_length > 0;
}

ParseError classify(llhttp_errno_t status) {
  switch (status) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:  // Content-Length twice, or beside Transfer-Encoding
    case HPE_INVALID_TRANSFER_ENCODING:  // chunked not the last coding, or repeated
      return ParseError::smuggling;
    case HPE_PAUSED_H2_UPGRADE:  // "PRI * HTTP/2.0", the HTTP/2 connection preface
      return ParseError::unsupported;
    default:
      return ParseError::bad_message;
  }
}

bool is_pause(llhttp_errno_t status) { return status == HPE_PAUSED || status == HPE_PAUSED_UPGRADE; }

}  // namespace

struct Parser::Impl {
  Impl(Kind k, ParserLimits l) : kind(k), limits(l) {
    llhttp_init(&llhttp, k == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
  }

  // Forgets the message; llhttp_reset() keeps the parser's type and settings.
  void start_message() {
    llhttp_reset(&llhttp);
    request = {};
    response = {};
    request_method.clear();
    field.clear();
    value.clear();
    head_bytes = 0;
    last_head_byte = '\0';
    started = head_done = message_done = false;
    failure.reset();
  }

  Headers& headers() { return kind == Kind::request ? request.headers : response.headers; }
  BodyFraming framing() const { return kind == Kind::request ? request.framing : response.framing; }

  static const llhttp_settings_t& settings();

  Kind kind;
  ParserLimits limits;
  llhttp_t llhttp{};
  RequestHead request;
  ResponseHead response;
  std::string request_method;  // for a response: see expect_response_to()

  // llhttp hands over a field name or value in as many pieces as the input was split into.
  std::string field;
  std::string value;

  std::size_t head_bytes = 0;
  char last_head_byte = '\0';
  bool started = false;
  bool head_done = false;
  bool message_done = false;
  std::optional<Failure> failure;  // set by a callback, which can only return an errno
};

// llhttp's callbacks. Each feed() points llhttp's `data` at the Parser, which may have moved since.
struct ParserCallbacks {
  static Parser& parser(llhttp_t* p) { return *static_cast<Parser*>(p->data); }
  static Parser::Impl& impl(llhttp_t* p) { return *parser(p).impl_; }

  static int fail(llhttp_t* p, Failure failure) {
    impl(p).failure = failure;
    return HPE_USER;
  }

  static int on_message_begin(llhttp_t* p) {
    impl(p).started = true;
    return HPE_OK;
  }

  static int on_method(llhttp_t* p, const char* at, std::size_t size) {
    impl(p).request.method.append(at, size);
    return HPE_OK;
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t size) {
    impl(p).request.target.append(at, size);
    return HPE_OK;
  }

  static int on_status(llhttp_t* p, const char* at, std::size_t size) {
    impl(p).response.reason.append(at, size);
    return HPE_OK;
  }

  // Fields after the head are chunked trailers: parsed, but not kept (the body is forwarded
  // re-chunked, without them), so a long trailer section costs no memory.
  static int on_header_field(llhttp_t* p, const char* at, std::size_t size) {
    auto& i = impl(p);
    if (!i.head_done) i.field.append(at, size);
    return HPE_OK;
  }

  static int on_header_field_complete(llhttp_t* p) {
    auto& i = impl(p);
    if (i.head_done) return HPE_OK;
    if (i.headers().size() >= i.limits.max_header_count) {
      return fail(p, {ParseError::head_too_large, "too many header fields"});
    }
    if (auto failure = check_field_name(i.field)) return fail(p, *failure);
    return HPE_OK;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t size) {
    auto& i = impl(p);
    if (!i.head_done) i.value.append(at, size);
    return HPE_OK;
  }

  static int on_header_value_complete(llhttp_t* p) {
    auto& i = impl(p);
    if (i.head_done) return HPE_OK;
    if (auto failure = check_field_value(i.value)) return fail(p, *failure);
    // llhttp drops the OWS before a value, not the OWS after it.
    i.value.resize(trim_trailing_ows(i.value).size());
    i.headers().add(std::move(i.field), std::move(i.value));
    i.field.clear();
    i.value.clear();
    return HPE_OK;
  }

  // Returns HPE_PAUSED so that the caller sees the head before any body byte, or 1 to tell llhttp
  // the message has no body (llhttp cannot know about HEAD, and reads bodies of 1xx/204/304).
  static int on_headers_complete(llhttp_t* p) {
    auto& i = impl(p);
    if (auto failure = check_start_line(*p)) return fail(p, *failure);
    if (auto failure = check_framing_fields(*p, i.headers())) return fail(p, *failure);
    const auto framing =
        i.kind == Parser::Kind::request ? request_framing(*p) : response_framing(*p, i.request_method);
    const std::uint64_t content_length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
    const bool keep_alive = connection_persists(*p) && framing != BodyFraming::until_close;
    if (i.kind == Parser::Kind::request) {
      describe(i.request, *p, framing, content_length, keep_alive);
    } else {
      describe(i.response, *p, framing, content_length, keep_alive);
      i.response.status = p->status_code;
    }
    i.head_done = true;
    return body_follows(framing, content_length) ? HPE_PAUSED : 1;
  }

  template <class Head>
  static void describe(Head& head, const llhttp_t& p, BodyFraming framing,
                       std::uint64_t content_length, bool keep_alive) {
    head.version_minor = p.http_minor;
    head.framing = framing;
    head.content_length = content_length;
    head.keep_alive = keep_alive;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t size) {
    parser(p).body_.emplace_back(at, size);
    return HPE_OK;
  }

  // Pausing leaves the next pipelined message's bytes unconsumed, in the caller's buffer.
  static int on_message_complete(llhttp_t* p) {
    impl(p).message_done = true;
    return HPE_PAUSED;
  }
};

const llhttp_settings_t& Parser::Impl::settings() {
  // llhttp keeps a pointer to its settings for the parser's lifetime.
  static const llhttp_settings_t table = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &ParserCallbacks::on_message_begin;
    s.on_method = &ParserCallbacks::on_method;
    s.on_url = &ParserCallbacks::on_url;
    s.on_status = &ParserCallbacks::on_status;
    s.on_header_field = &ParserCallbacks::on_header_field;
    s.on_header_field_complete = &ParserCallbacks::on_header_field_complete;
    s.on_header_value = &ParserCallbacks::on_header_value;
    s.on_header_value_complete = &ParserCallbacks::on_header_value_complete;
    s.on_headers_complete = &ParserCallbacks::on_headers_complete;
    s.on_body = &ParserCallbacks::on_body;
    s.on_message_complete = &ParserCallbacks::on_message_complete;
    return s;
  }();
  return table;
}

Parser::Parser(Kind kind, ParserLimits limits) : impl_(std::make_unique<Impl>(kind, limits)) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

void Parser::expect_response_to(std::string_view method) { impl_->request_method.assign(method); }

std::size_t Parser::feed(std::string_view input) {
  body_.clear();
  auto& impl = *impl_;
  if (failed() || impl.message_done) return 0;
  const bool in_head = !impl.head_done;
  // llhttp sees no more than the head may still grow by, so an endless head costs
  // max_head_bytes of parsing, and the check below needs no look at the bytes beyond.
  if (in_head) input = input.substr(0, impl.limits.max_head_bytes - impl.head_bytes);
  const std::size_t consumed = input.empty() ? 0 : execute(input);
  // feed() stops at the end of the head, so the bytes consumed so far are all head bytes.
  if (in_head && !failed()) account_head(input.substr(0, consumed));
  return consumed;
}

std::size_t Parser::execute(std::string_view input) {
  auto& impl = *impl_;
  impl.llhttp.data = this;
  llhttp_resume(&impl.llhttp);  // after the pause at the end of the head; a no-op otherwise
  const auto status = llhttp_execute(&impl.llhttp, input.data(), input.size());
  if (impl.failure || (status != HPE_OK && !is_pause(status))) {
    // account_head() checks line breaks only in what llhttp consumed, so a bare LF or obs-fold
    // before the point of failure wins here too: the verdict (400 or 501) must not depend on how
    // the input was split into reads.
    const char* at = llhttp_get_error_pos(&impl.llhttp);
    if (!impl.head_done && at != nullptr && at >= input.data() && at <= input.data() + input.size()) {
      char previous = impl.last_head_byte;
      const auto parsed = input.substr(0, static_cast<std::size_t>(at - input.data()));
      if (auto failure = check_line_breaks(parsed, previous)) {
        fail(failure->error, failure->text);
        return 0;
      }
    }
  }
  if (impl.failure) {
    fail(impl.failure->error, impl.failure->text);
    return 0;
  }
  if (status == HPE_OK) return input.size();
  if (!is_pause(status)) {
    const char* reason = llhttp_get_error_reason(&impl.llhttp);
    fail(classify(status), reason != nullptr ? reason : "malformed message");
    return 0;
  }
  // Paused in a callback: the error position is the first byte not consumed.
  return static_cast<std::size_t>(llhttp_get_error_pos(&impl.llhttp) - input.data());
}

void Parser::account_head(std::string_view head) {
  auto& impl = *impl_;
  impl.head_bytes += head.size();
  if (auto failure = check_line_breaks(head, impl.last_head_byte)) {
    fail(failure->error, failure->text);
  } else if (!impl.head_done && impl.head_bytes >= impl.limits.max_head_bytes) {
    fail(ParseError::head_too_large, "message head too large");
  }
}

bool Parser::feed_eof() {
  body_.clear();
  auto& impl = *impl_;
  if (failed()) return false;
  if (impl.message_done) return true;
  // Only an until_close body ends with the connection; llhttp_finish() would say the same, but
  // not while llhttp is still paused at the end of the head.
  if (impl.head_done && impl.framing() == BodyFraming::until_close) {
    impl.message_done = true;
    return true;
  }
  if (impl.started) fail(ParseError::truncated, "connection closed mid-message");
  return false;
}

bool Parser::head_complete() const { return !failed() && impl_->head_done; }
bool Parser::message_complete() const { return !failed() && impl_->message_done; }

const RequestHead& Parser::request() const { return impl_->request; }
const ResponseHead& Parser::response() const { return impl_->response; }
RequestHead& Parser::request() { return impl_->request; }
ResponseHead& Parser::response() { return impl_->response; }

void Parser::reset() {
  impl_->start_message();
  error_ = ParseError::none;
  error_text_.clear();
  body_.clear();
}

void Parser::fail(ParseError error, std::string_view text) {
  error_ = error;
  error_text_.assign(text);
  body_.clear();
}

std::string chunk_header(std::size_t size) {
  char digits[2 * sizeof(std::size_t)];
  const auto end = std::to_chars(std::begin(digits), std::end(digits), size, 16).ptr;
  return std::string(std::begin(digits), end).append("\r\n");
}

}  // namespace pt::http
