#pragma once
// The S3 credential: an access key (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and, for temporary
// credentials (STS, IAM roles), AWS_SESSION_TOKEN. The names every S3 tool reads; the caller reads
// the environment and hands the values in, so this code stays pure.
//
// The secret never leaves this struct except into the signing key: log `describe()`, which shows
// only the ends of the key ID (issue 18: secrets never in logs, /metrics, the status page or --help).
#include <optional>
#include <string>
#include <string_view>

namespace pt::s3 {

struct AccessKey {
  std::string access_key_id;
  std::string secret_access_key;
  std::optional<std::string> session_token;  // sent as x-amz-security-token, and signed

  // "AKIA...WXYZ" (a key ID of 12 characters or more), "..." for a shorter one, plus
  // " with a session token" when there is one. Never the secret or the token.
  std::string describe() const;
};

// Both empty (token too): nullopt, the caller decides whether anonymous access makes sense. Throws
// std::invalid_argument naming the setting when only one of the pair is set, or a value holds
// blanks or control characters (a stray newline from a Secret file would sign every request wrong).
// The message never quotes a value.
std::optional<AccessKey> access_key_from_settings(std::string_view access_key_id, std::string_view secret_access_key,
                                                  std::string_view session_token);

}  // namespace pt::s3
