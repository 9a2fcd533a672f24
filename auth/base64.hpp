#pragma once
// Standard base64 (RFC 4648 section 4, with '=' padding), as HTTP Basic authentication uses it.
#include <optional>
#include <string>
#include <string_view>

namespace pt::auth {

std::string base64_encode(std::string_view bytes);

// Strict decoding: the length must be a multiple of 4, padding only at the end, no whitespace.
// nullopt for anything else, since the input is a client's header.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pt::auth
