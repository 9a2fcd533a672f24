#pragma once
// A response the proxy writes itself (its own pages, refusals, errors): small, complete, in memory.
#include "proxy/http/message.hpp"

#include <string>

namespace pt::http {

struct LocalResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers extra_headers;
};

// A complete response head + body, with Content-Length and Connection set.
std::string render(const LocalResponse& response, bool keep_alive, bool head_only);

}  // namespace pt::http
