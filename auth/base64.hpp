#pragma once
// Standard base64 (RFC 4648 section 4, with '=' padding), as HTTP Basic authentication uses it.
#include <string>
#include <string_view>

namespace pt::auth {

std::string base64_encode(std::string_view bytes);

}  // namespace pt::auth
