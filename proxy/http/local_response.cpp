#include "proxy/http/local_response.hpp"

namespace pt::http {

std::string render(const LocalResponse& response, bool keep_alive, bool head_only) {
  ResponseHead head;
  head.status = response.status;
  head.reason = std::string(reason_phrase(response.status));
  head.headers.add("Content-Type", response.content_type);
  head.headers.add("Content-Length", std::to_string(response.body.size()));
  for (const auto& h : response.extra_headers) head.headers.add(h.name, h.value);
  head.headers.add("Connection", keep_alive ? "keep-alive" : "close");
  std::string out = serialize(head);
  if (!head_only) out += response.body;
  return out;
}

}  // namespace pt::http
