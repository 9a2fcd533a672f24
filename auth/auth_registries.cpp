#include "auth/auth_registries.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace pt::auth {
namespace {

constexpr std::string_view docker_hub_alias = "docker.io";
constexpr std::string_view docker_hub_token_host = "auth.docker.io";

std::vector<std::string_view> split_entries(std::string_view text, std::string_view delimiter) {
  if (trim(delimiter).empty()) return split_words(text);
  std::vector<std::string_view> entries;
  for (auto entry : split_exact(text, delimiter)) {
    if (!trim(entry).empty()) entries.push_back(trim(entry));
  }
  return entries;
}

std::string_view without_scheme(std::string_view entry) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (istarts_with(entry, scheme)) return entry.substr(scheme.size());
  }
  return entry;
}

// The field after the host when it is a number followed by two more fields (user, password):
// "5000" in "host:5000:user:password". Not when the host already names a port.
std::optional<std::string_view> port_field(std::string_view rest, std::string_view field_delimiter) {
  const auto end = rest.find(field_delimiter);
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  const auto number = rest.substr(0, end);
  if (!std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  if (rest.find(field_delimiter, end + field_delimiter.size()) == std::string_view::npos) return std::nullopt;
  return number;
}

// Builds error messages for one entry; only ever shows what has been identified as host and user.
class EntryErrors {
public:
  EntryErrors(std::size_t number, std::string_view field_delimiter)
      : number_(number), expected_(fmt::format("expected host{0}user{0}password or host:port{0}user{0}password",
                              printable(field_delimiter))) {}

  [[noreturn]] void fail(std::string_view why) const {
    throw std::invalid_argument(fmt::format("AUTH_REGISTRIES entry #{}{}: {} ({})", number_, who_, why, expected_));
  }
  void identify_host(std::string_view host) { who_ = fmt::format(" for host '{}'", printable(host)); }
  void identify_user(std::string_view user, std::string_view host) {
    who_ = fmt::format(" for {}@{}", printable(user), printable(host));
  }

private:
  std::size_t number_;
  std::string expected_;
  std::string who_;
};

Credential parse_entry(std::string_view entry, std::size_t number, std::string_view field_delimiter) {
  EntryErrors errors(number, field_delimiter);
  entry = without_scheme(entry);
  const auto first = entry.find(field_delimiter);
  // Nothing of the entry is shown: without a delimiter we cannot tell host from password.
  if (first == std::string_view::npos) errors.fail("no user and password");

  auto host_text = entry.substr(0, first);
  while (!host_text.empty() && host_text.back() == '/') host_text.remove_suffix(1);
  errors.identify_host(host_text);
  auto rest = entry.substr(first + field_delimiter.size());
  std::string host_with_port;
  const auto written = parse_authority(host_text);
  const bool host_has_port = written && written->port;
  if (const auto port = host_has_port ? std::nullopt : port_field(rest, field_delimiter)) {
    // "registry.test:5000:alice:secret": with ':' between the fields a port can only be written
    // as a field of its own, and a number followed by a user and a password is that port, as
    // users mean it (private registries on :5000 are common). A number that is no port could be a
    // user as well as a port written wrong: refused rather than guessed.
    if (!parse_port(*port)) errors.fail("a number that is no port (1-65535) between host and user");
    host_with_port = std::string(host_text) + ":" + std::string(*port);
    host_text = host_with_port;
    errors.identify_host(host_text);
    rest.remove_prefix(port->size() + field_delimiter.size());
  }
  const auto second = rest.find(field_delimiter);
  // The one field after the host may be a password written without a user: do not show it.
  if (second == std::string_view::npos) errors.fail("no password");

  const auto user = rest.substr(0, second);
  const auto password = rest.substr(second + field_delimiter.size());
  auto authority = parse_authority(host_text);
  if (!authority) errors.fail(fmt::format("invalid host: {}", authority.error));
  if (authority->host == docker_hub_alias) authority.value->host = docker_hub_token_host;
  errors.identify_user(user, format_authority(*authority));
  if (user.empty()) errors.fail("empty user");
  // RFC 7617: the user-id ends at the first ':' of the decoded Basic credentials.
  if (user.find(':') != std::string_view::npos) errors.fail("the user must not contain ':'");
  if (password.empty()) errors.fail("empty password");

  return Credential{std::move(authority.value->host), authority->port, std::string(user), std::string(password)};
}

}  // namespace

CredentialStore parse_auth_registries(std::string_view text, std::string_view entry_delimiter,
                                      std::string_view field_delimiter) {
  if (entry_delimiter.empty()) entry_delimiter = default_auth_registries_delimiter;
  if (field_delimiter.empty()) field_delimiter = default_auth_registry_delimiter;
  std::vector<Credential> credentials;
  std::size_t number = 0;
  for (auto entry : split_entries(text, entry_delimiter)) {
    credentials.push_back(parse_entry(entry, ++number, field_delimiter));
  }
  return CredentialStore(std::move(credentials));
}

}  // namespace pt::auth
