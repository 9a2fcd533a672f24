// Fuzzes the list-valued settings: REGISTRIES (auth::RegistryMatcher), AUTH_REGISTRIES with its
// delimiters (auth::parse_auth_registries) and UPSTREAM_RESOLVE (ResolveOverrides). The first
// input byte picks the parser. Invariants:
//   * bad text throws std::invalid_argument, nothing else, and the message names the setting;
//   * what a parser accepted and printed for the startup log (entries()) parses back to the same
//     configuration, which matches the same hosts (the log tells the truth);
//   * Docker Hub is always intercepted; every configured registry host is intercepted;
//   * credentials are complete (host, user without ':', password), describe() never shows the
//     password, and the Basic header decodes to exactly "user:password";
//   * an override target is a canonical IP literal.
#include "common/ascii.hpp"
#include "auth/auth_registries.hpp"
#include "auth/base64.hpp"
#include "common/host_port.hpp"
#include "auth/registry_matcher.hpp"
#include "fuzz_check.hpp"
#include "proxy/net/resolve_overrides.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pt::fuzz::escaped;
namespace auth = pt::auth;
using namespace pt;  // common/host_port.hpp, common/ascii.hpp

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

void fuzz_registries(FuzzedDataProvider& provider) {
  const std::string probe = provider.ConsumeRandomLengthString(64);
  const std::string text = provider.ConsumeRemainingBytesAsString();
  std::optional<auth::RegistryMatcher> matcher;
  try {
    matcher.emplace(text);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with("REGISTRIES entry"));
    return;
  }
  for (const auto host : auth::RegistryMatcher::docker_hub_hosts()) FUZZ_CHECK(matcher->intercepts(host, 443));
  const auto entries = matcher->entries();
  std::optional<auth::RegistryMatcher> again;
  try {
    again.emplace(join(entries));
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK_MSG(false, escaped(join(entries)) + ": " + e.what());
  }
  FUZZ_CHECK_MSG(again->entries() == entries, escaped(text));
  // Both readings intercept the same CONNECT targets.
  if (const auto target = parse_connect_target(probe)) {
    FUZZ_CHECK(matcher->intercepts(target->host, *target->port) == again->intercepts(target->host, *target->port));
  }
  // Every plain configured host is intercepted (on its port, if it has one).
  for (const auto& entry : entries) {
    if (entry.starts_with("*.")) continue;
    const auto authority = parse_authority(entry);
    FUZZ_CHECK_MSG(authority.value.has_value(), escaped(entry));
    FUZZ_CHECK_MSG(matcher->intercepts(authority->host, authority->port.value_or(443)), escaped(entry));
  }
}

void fuzz_auth_registries(FuzzedDataProvider& provider) {
  const std::string entry_delimiter = provider.ConsumeRandomLengthString(3);
  const std::string field_delimiter = provider.ConsumeRandomLengthString(3);
  const std::string text = provider.ConsumeRemainingBytesAsString();
  auth::CredentialStore store;
  try {
    store = auth::parse_auth_registries(text, entry_delimiter, field_delimiter);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string_view(e.what()).find("AUTH_REGISTRIES") != std::string_view::npos);
    return;
  }
  for (const auto& credential : store.all()) {
    FUZZ_CHECK(!credential.host.empty());
    FUZZ_CHECK_MSG(normalize_host(credential.host) == credential.host, escaped(credential.host));
    FUZZ_CHECK(!credential.username.empty() && credential.username.find(':') == std::string::npos);
    FUZZ_CHECK(!credential.password.empty());
    // The password may occur in what is rightly shown: user "u", password "0", port 5000; or
    // password "?W" and user "h\x02W", shown as "h?W" (CI's fuzz smoke found both).
    const std::string visible =
        printable(credential.username) + "@" + format_authority(credential.host, credential.port);
    const bool password_elsewhere = visible.find(credential.password) != std::string::npos;
    for (const std::string& shown : {credential.describe(), fmt::format("{}", credential)}) {
      FUZZ_CHECK_MSG(password_elsewhere || shown.find(credential.password) == std::string::npos, escaped(shown));
    }
    const std::string header = auth::basic_authorization(credential);
    FUZZ_CHECK(header.starts_with("Basic "));
    const auto decoded = auth::base64_decode(std::string_view(header).substr(6));
    FUZZ_CHECK(decoded && *decoded == credential.username + ":" + credential.password);
    // The store finds every credential it holds.
    const auto found = store.find(credential.host, credential.port.value_or(443));
    FUZZ_CHECK(found != nullptr && found->host == credential.host);
  }
}

void fuzz_resolve_overrides(FuzzedDataProvider& provider) {
  const std::string probe = provider.ConsumeRandomLengthString(64);
  const std::string text = provider.ConsumeRemainingBytesAsString();
  std::optional<pt::net::ResolveOverrides> overrides;
  try {
    overrides.emplace(text);
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with("UPSTREAM_RESOLVE entry"));
    return;
  }
  const auto entries = overrides->entries();
  std::optional<pt::net::ResolveOverrides> again;
  try {
    again.emplace(join(entries));
  } catch (const std::invalid_argument& e) {
    FUZZ_CHECK_MSG(false, escaped(join(entries)) + ": " + e.what());
  }
  FUZZ_CHECK_MSG(again->entries() == entries, escaped(text));
  const auto target = overrides->lookup(probe);
  FUZZ_CHECK(target == again->lookup(probe));
  if (target) FUZZ_CHECK_MSG(canonical_ip_literal(target->address) == target->address, escaped(target->address));
  for (const auto& entry : entries) {
    const auto name = std::string_view(entry).substr(0, entry.find('='));
    if (name.starts_with("*.")) continue;
    const auto exact = overrides->lookup(name);
    FUZZ_CHECK_MSG(exact.has_value(), escaped(entry));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider provider(bytes, size);
  switch (provider.ConsumeIntegral<std::uint8_t>() % 3) {
    case 0: fuzz_registries(provider); break;
    case 1: fuzz_auth_registries(provider); break;
    default: fuzz_resolve_overrides(provider); break;
  }
  return 0;
}
