#pragma once
// The two primitives SigV4 is built from, over OpenSSL's EVP interface: SHA-256 (of the canonical
// request, and of payloads) and HMAC-SHA-256 (the signing-key chain and the signature), plus the
// lower-case hex that AWS writes them in.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pt::s3 {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::string_view data);
Sha256 hmac_sha256(std::span<const std::uint8_t> key, std::string_view data);
inline Sha256 hmac_sha256(std::string_view key, std::string_view data) {
  return hmac_sha256(std::span(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()), data);
}

std::string to_hex(std::span<const std::uint8_t> bytes);  // lower-case
std::string sha256_hex(std::string_view data);

// Standard base64 (with padding), as the Content-MD5 and x-amz-checksum-* headers want digests.
std::string to_base64(std::span<const std::uint8_t> bytes);

}  // namespace pt::s3
