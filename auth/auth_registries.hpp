#pragma once
// rpardini's AUTH_REGISTRIES setting: "host:user:password" entries.
//
// Compatible with rpardini's entrypoint.sh: entries are separated by AUTH_REGISTRIES_DELIMITER
// (default " "), fields by AUTH_REGISTRY_DELIMITER (default ":"); an empty delimiter means the
// default, as bash's ${VAR:-default} does there. Deliberate differences, all of them accepting
// more (nothing rpardini accepts is read differently, except the first):
//   * The password is everything after the second field delimiter, so "quay.io:user:pa:ss" has the
//     password "pa:ss" (rpardini silently keeps "pa").
//   * With the default entry delimiter, any whitespace (newlines from YAML blocks too) separates
//     entries; with another delimiter, whitespace around each entry is ignored, so a password
//     cannot end in whitespace. Empty entries are skipped.
//   * A leading "https://" or "http://" and trailing '/' on the host are dropped.
//   * "docker.io" means Docker Hub's token service, auth.docker.io, where Hub credentials are used.
//   * The host may carry a port, and the credential then applies to that port only. With the
//     default ":" delimiter it is a field of its own: "myreg:5000:user:password" (a number after
//     the host followed by two more fields is a port; one that is no port, such as 70000, is
//     refused as ambiguous). With another delimiter it is part of the host: "myreg:5000:::u:::p".
//     rpardini reads "myreg:5000:user:password" as user "5000" (and the password "user").
// Errors name the entry by position, host and user, never by its password.
#include "auth/credentials.hpp"

#include <string_view>
#include <vector>

namespace pt::auth {

inline constexpr std::string_view default_auth_registries_delimiter = " ";
inline constexpr std::string_view default_auth_registry_delimiter = ":";

// Throws std::invalid_argument for a malformed entry (missing field, empty or invalid host, empty
// user or password, a user containing ':') and for two entries with the same host and port.
CredentialStore parse_auth_registries(std::string_view text,
                                      std::string_view entry_delimiter = default_auth_registries_delimiter,
                                      std::string_view field_delimiter = default_auth_registry_delimiter);

}  // namespace pt::auth
