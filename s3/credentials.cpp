#include "s3/credentials.hpp"

#include <stdexcept>

namespace pt::s3 {

namespace {

// Visible ASCII only: keys, secrets and tokens are base64-like or alphanumeric.
void check_value(std::string_view value, std::string_view setting) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      throw std::invalid_argument(std::string(setting) +
                                  " holds a blank, control or non-ASCII character (a trailing newline?)");
    }
  }
}

}  // namespace

std::string AccessKey::describe() const {
  std::string out;
  if (access_key_id.size() >= 12) {
    out = access_key_id.substr(0, 4) + "..." + access_key_id.substr(access_key_id.size() - 4);
  } else {
    out = "...";
  }
  if (session_token) out += " with a session token";
  return out;
}

std::optional<AccessKey> access_key_from_settings(std::string_view access_key_id, std::string_view secret_access_key,
                                                  std::string_view session_token) {
  if (access_key_id.empty() && secret_access_key.empty()) {
    if (!session_token.empty()) {
      throw std::invalid_argument("AWS_SESSION_TOKEN is set without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    return std::nullopt;
  }
  if (access_key_id.empty()) throw std::invalid_argument("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID");
  if (secret_access_key.empty()) {
    throw std::invalid_argument("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY");
  }
  check_value(access_key_id, "AWS_ACCESS_KEY_ID");
  check_value(secret_access_key, "AWS_SECRET_ACCESS_KEY");
  check_value(session_token, "AWS_SESSION_TOKEN");
  AccessKey key{std::string(access_key_id), std::string(secret_access_key), std::nullopt};
  if (!session_token.empty()) key.session_token = std::string(session_token);
  return key;
}

}  // namespace pt::s3
