#include "proxy/http/message.hpp"

#include <algorithm>

namespace pt::http {

namespace {

// ASCII only: header names and tokens are ASCII by definition, and locale-dependent tolower()
// has no place on a wire format.
char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Optional whitespace around list elements (RFC 9110 section 5.6.1).
std::string_view trim_ows(std::string_view text) {
  const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

// Calls `visit` with each OWS-trimmed item of a comma-separated list until it returns true.
template <class Visit>
bool any_list_item(std::string_view list, Visit visit) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (visit(trim_ows(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool list_contains(std::string_view list, std::string_view token) {
  return any_list_item(list, [&](std::string_view item) { return iequals(item, token); });
}

void append_fields(std::string& out, const Headers& headers) {
  for (const auto& field : headers) {
    out.append(field.name).append(": ").append(field.value).append("\r\n");
  }
  out.append("\r\n");
}

std::size_t fields_size(const Headers& headers) {
  std::size_t size = 2;  // the blank line
  for (const auto& field : headers) size += field.name.size() + field.value.size() + 4;
  return size;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

void Headers::add(std::string name, std::string value) {
  fields_.push_back({std::move(name), std::move(value)});
}

void Headers::set(std::string name, std::string value) {
  // The replacement takes the place of the first such field, so a rewritten head keeps its order.
  const auto first = std::ranges::find_if(fields_, [&](const Header& h) { return iequals(h.name, name); });
  if (first == fields_.end()) {
    add(std::move(name), std::move(value));
    return;
  }
  first->name = std::move(name);
  first->value = std::move(value);
  const auto same_name = [&](const Header& h) { return iequals(h.name, first->name); };
  fields_.erase(std::remove_if(first + 1, fields_.end(), same_name), fields_.end());
}

std::size_t Headers::remove(std::string_view name) {
  return std::erase_if(fields_, [&](const Header& h) { return iequals(h.name, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& field : fields_) {
    if (iequals(field.name, name)) return field.value;
  }
  return std::nullopt;
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
  // A list may be split over several fields of the same name (RFC 9110 section 5.3).
  return std::ranges::any_of(fields_, [&](const Header& h) {
    return iequals(h.name, name) && list_contains(h.value, token);
  });
}

std::vector<std::string_view> Headers::list_items(std::string_view name) const {
  std::vector<std::string_view> items;
  for (const auto& h : fields_) {
    if (!iequals(h.name, name)) continue;
    any_list_item(h.value, [&](std::string_view item) {
      if (!item.empty()) items.push_back(item);
      return false;
    });
  }
  return items;
}

std::string serialize(const RequestHead& head) {
  const auto version = std::to_string(head.version_minor);
  std::string out;
  out.reserve(head.method.size() + head.target.size() + 12 + fields_size(head.headers));
  out.append(head.method).append(" ").append(head.target);
  out.append(" HTTP/1.").append(version).append("\r\n");
  append_fields(out, head.headers);
  return out;
}

std::string serialize(const ResponseHead& head) {
  // A head built in code often leaves the reason empty; the standard phrase reads better in logs
  // and in curl -v than an empty one, and clients ignore it either way.
  const std::string_view reason = head.reason.empty() ? reason_phrase(head.status) : head.reason;
  std::string out;
  out.reserve(reason.size() + 16 + fields_size(head.headers));
  out.append("HTTP/1.").append(std::to_string(head.version_minor)).append(" ");
  out.append(std::to_string(head.status)).append(" ").append(reason).append("\r\n");
  append_fields(out, head.headers);
  return out;
}

std::string_view reason_phrase(int status) {
  // RFC 9110 section 15, for the codes a registry proxy meets or sends.
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace pt::http
