#include "cache/digest.hpp"

#include <algorithm>
#include <stdexcept>

namespace pt::cache {
namespace {

constexpr std::string_view kPrefix = "sha256:";
constexpr std::size_t kHexLength = 64;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::optional<Digest> Digest::parse(std::string_view text) {
  if (!text.starts_with(kPrefix)) return std::nullopt;
  const auto hex = text.substr(kPrefix.size());
  if (hex.size() != kHexLength || !std::all_of(hex.begin(), hex.end(), is_lower_hex)) {
    return std::nullopt;
  }
  return Digest(std::string(text));
}

bool looks_like_digest(std::string_view text) {
  // OCI: algorithm = [a-z0-9]+([+._-][a-z0-9]+)*, encoded = [a-zA-Z0-9=_-]+
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
  const auto algorithm = text.substr(0, colon);
  const auto encoded = text.substr(colon + 1);
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool previous_was_separator = true;  // no leading separator
  for (char c : algorithm) {
    const bool separator = c == '+' || c == '.' || c == '_' || c == '-';
    if (!separator && !alnum(c)) return false;
    if (separator && previous_was_separator) return false;
    previous_was_separator = separator;
  }
  if (previous_was_separator) return false;
  return std::all_of(encoded.begin(), encoded.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '=' || c == '_' || c == '-';
  });
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not initialise SHA-256");
  }
}

void Sha256::update(std::span<const char> bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
}

Digest Sha256::finish() {
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_.get(), raw, &length);
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string text(kPrefix);
  for (unsigned int i = 0; i < length; ++i) {
    text.push_back(kHexDigits[raw[i] >> 4]);
    text.push_back(kHexDigits[raw[i] & 0xf]);
  }
  return Digest(std::move(text));
}

}  // namespace pt::cache
