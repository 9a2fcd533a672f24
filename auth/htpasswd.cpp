#include "auth/htpasswd.hpp"

#include "common/ascii.hpp"
#include "auth/base64.hpp"

#include <crypt.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace pt::auth {
namespace {

bool is_crypt_hash(std::string_view hash) {
  return hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$") ||
         hash.starts_with("$5$") || hash.starts_with("$6$");
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool verify_crypt(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();  // about 32 KiB: not on a coroutine's stack
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  return out != nullptr && equal_constant_time(out, hash);
}

bool verify_sha1(std::string_view password, std::string_view encoded) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(password.data()), password.size(), digest);
  const auto expected = base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  return equal_constant_time(expected, encoded);
}

}  // namespace

Htpasswd Htpasswd::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read PROXY_AUTH_FILE {}", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file.string());
}

Htpasswd Htpasswd::parse(std::string_view text, std::string_view origin) {
  Htpasswd result;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const auto fail = [&](std::string_view why) {
      return std::runtime_error(fmt::format("{} line {}: {}", origin, line_number, why));
    };
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) throw fail("expected 'user:hash'");
    const auto user = line.substr(0, colon);
    const auto hash = line.substr(colon + 1);
    if (hash.starts_with("$apr1$")) {
      throw fail("$apr1$ (MD5) hashes are not supported; create the file with 'htpasswd -B' (bcrypt)");
    }
    if (!is_crypt_hash(hash) && !hash.starts_with("{SHA}")) {
      throw fail("unsupported or plain-text password; create the file with 'htpasswd -B' (bcrypt)");
    }
    if (!result.users_.emplace(std::string(user), std::string(hash)).second) {
      throw fail(fmt::format("user '{}' appears twice", user));
    }
  }
  return result;
}

bool Htpasswd::verify(std::string_view user, std::string_view password) const {
  const auto found = users_.find(std::string(user));
  if (found == users_.end()) return false;
  const auto& hash = found->second;
  if (hash.starts_with("{SHA}")) return verify_sha1(password, std::string_view(hash).substr(5));
  return verify_crypt(password, hash);
}

}  // namespace pt::auth
