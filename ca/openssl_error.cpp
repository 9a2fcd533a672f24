#include "ca/openssl_error.hpp"

#include <openssl/err.h>

#include <fmt/format.h>

#include <array>
#include <stdexcept>

namespace pt::ca {

std::string openssl_error_string() {
  std::string message;
  const char* data = nullptr;
  int flags = 0;
  while (const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    if (!message.empty()) message += "; ";
    message += text.data();
    // The attached data often holds the useful detail, e.g. "Expecting: ANY PRIVATE KEY".
    if ((flags & ERR_TXT_STRING) && data != nullptr && *data != '\0') {
      message += fmt::format(" ({})", data);
    }
  }
  return message.empty() ? std::string("no OpenSSL error reported") : message;
}

void throw_openssl_error(std::string_view what) {
  throw std::runtime_error(fmt::format("{}: {}", what, openssl_error_string()));
}

}  // namespace pt::ca
