#pragma once
// Plain HTTP/1.x message heads, as the rest of pullthrough sees them. Only http_codec.cpp knows
// llhttp; everything else works with these structs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::http {

struct Header {
  std::string name;
  std::string value;
};

// Header fields in arrival order; lookups are case-insensitive on the name.
class Headers {
public:
  void add(std::string name, std::string value);
  // Replaces every field of that name with one.
  void set(std::string name, std::string value);
  // Removes every field of that name; returns how many were removed.
  std::size_t remove(std::string_view name);

  // The first value of that name.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  // True when a comma-separated field (Connection, Cache-Control, ...) lists `token`,
  // case-insensitively, in any of its fields.
  bool has_token(std::string_view name, std::string_view token) const;
  // The items of a comma-separated field, over all its fields, OWS trimmed, empty items dropped.
  std::vector<std::string_view> list_items(std::string_view name) const;

  const std::vector<Header>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }

private:
  std::vector<Header> fields_;
};

bool iequals(std::string_view a, std::string_view b);

// How the body of a message is delimited on the wire.
enum class BodyFraming {
  none,            // no body (HEAD response, 204, 304, request without body)
  content_length,  // exactly content_length bytes
  chunked,         // Transfer-Encoding: chunked
  until_close,     // response body ends when the connection closes
};

struct RequestHead {
  std::string method;
  std::string target;  // as sent: origin-form "/v2/", authority-form "host:443", absolute-form
  int version_minor = 1;  // HTTP/1.x
  Headers headers;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;  // when framing == content_length
  bool keep_alive = true;            // per HTTP version and Connection
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  int version_minor = 1;
  Headers headers;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
};

// Wire form of a head, ending with the blank line. Uses the headers exactly as given.
std::string serialize(const RequestHead& head);
std::string serialize(const ResponseHead& head);

// The standard reason phrase ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status);

}  // namespace pt::http
