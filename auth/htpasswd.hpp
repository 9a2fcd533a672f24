#pragma once
// PROXY_AUTH_FILE: the users allowed to use the proxy, in Apache htpasswd format. Supported hashes
// are the ones that are still reasonable: bcrypt ("htpasswd -B", $2y$/$2b$/$2a$), SHA-crypt
// ($5$/$6$) and the legacy unsalted {SHA} ("htpasswd -s"). Apache's default $apr1$ (MD5) and plain
// text are refused at start-up with a message saying how to make a usable file.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pt::auth {

class Htpasswd {
public:
  // Throws std::runtime_error naming the file and line of the first problem.
  static Htpasswd load(const std::filesystem::path& file);
  // The same from text; `origin` names it in errors.
  static Htpasswd parse(std::string_view text, std::string_view origin);

  // Constant-time comparison of the hash. Blocking: bcrypt takes tens of milliseconds by design,
  // so call it off the I/O threads.
  bool verify(std::string_view user, std::string_view password) const;

  std::size_t size() const { return users_.size(); }

private:
  std::unordered_map<std::string, std::string> users_;  // user -> hash
};

}  // namespace pt::auth
