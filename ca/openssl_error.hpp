#pragma once
// The one place that turns OpenSSL's thread-local error queue into text.
#include <string>
#include <string_view>

namespace pt::ca {

// Drains this thread's OpenSSL error queue into one line, oldest error first, entries separated by
// "; ". Draining matters: a stale entry left behind would be blamed on the next, unrelated failure.
// Returns "no OpenSSL error reported" when the queue is empty.
std::string openssl_error_string();

// Throws std::runtime_error("<what>: <openssl_error_string()>").
[[noreturn]] void throw_openssl_error(std::string_view what);

}  // namespace pt::ca
