#include "s3/hashing.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace pt::s3 {

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  unsigned int length = 0;
  // EVP_Digest is one-shot; it fails only when OpenSSL cannot allocate or is misconfigured.
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 || length != out.size()) {
    throw std::runtime_error("SHA-256 failed (OpenSSL)");
  }
  return out;
}

Sha256 hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  Sha256 out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &length) == nullptr ||
      length != out.size()) {
    throw std::runtime_error("HMAC-SHA-256 failed (OpenSSL)");
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const auto b : bytes) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

std::string to_base64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace pt::s3
