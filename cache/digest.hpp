#pragma once
// Content digests as registries use them ("sha256:<64 lower-case hex>").
//
// Only sha256 is cacheable: it is what every registry serves today, and accepting nothing else
// means a Digest can safely become a file name (its text is validated to [0-9a-f]{64}).
#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pt::cache {

class Digest {
public:
  // nullopt unless `text` is exactly "sha256:" followed by 64 lower-case hex digits.
  static std::optional<Digest> parse(std::string_view text);

  const std::string& str() const noexcept { return text_; }  // "sha256:<hex>"
  std::string_view hex() const noexcept { return std::string_view(text_).substr(7); }

  friend bool operator==(const Digest&, const Digest&) = default;

private:
  explicit Digest(std::string text) : text_(std::move(text)) {}
  friend class Sha256;
  std::string text_;
};

// Syntax check for any OCI digest ("algorithm:encoded"), used to tell a digest reference from a
// tag even when its algorithm is one we do not cache.
bool looks_like_digest(std::string_view text);

// Streaming SHA-256 so blobs are verified while they flow, never buffered whole.
class Sha256 {
public:
  Sha256();  // throws std::runtime_error only if OpenSSL itself is broken
  void update(std::span<const char> bytes);
  Digest finish();  // the hasher is spent afterwards

private:
  struct ContextFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, ContextFree> ctx_;
};

}  // namespace pt::cache
