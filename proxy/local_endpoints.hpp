#pragma once
// Plain-HTTP requests addressed to the proxy itself: the root CA for clients to trust, a health
// check, and a clear refusal for everything else.
#include "proxy/http_message.hpp"

#include <string>

namespace pt {

struct Services;

struct LocalResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  http::Headers extra_headers;
};

LocalResponse answer_locally(const http::RequestHead& request, const Services& services);

// A complete response head + body, with Content-Length and Connection set.
std::string render(const LocalResponse& response, bool keep_alive, bool head_only);

}  // namespace pt
