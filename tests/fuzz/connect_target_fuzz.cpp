// Fuzzes the parsing of CONNECT targets (client input) and of configured authorities.
// Invariants, beyond "no crash, no throw":
//   * an accepted target has a port in 1..65535 and a canonical host: lower-case, no trailing dot,
//     no brackets, either a valid host name or the canonical text of an IP literal;
//   * parsing is idempotent: format_authority() of a result parses back to the same result;
//   * a failure carries a reason, and reasons never quote the input (printable ASCII only);
//   * normalize_host() and canonical_ip_literal() are idempotent.
#include "common/host_port.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using pt::fuzz::escaped;
using namespace pt;  // common/host_port.hpp

bool printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

void check_canonical_host(const std::string& host, std::string_view input) {
  FUZZ_CHECK_MSG(!host.empty(), escaped(input));
  FUZZ_CHECK_MSG(host == normalize_host(host), escaped(host));
  FUZZ_CHECK_MSG(host.find_first_of("[]/@ ") == std::string::npos, escaped(host));
  const auto literal = canonical_ip_literal(host);
  if (literal) {
    FUZZ_CHECK_MSG(*literal == host, escaped(host) + " vs " + escaped(*literal));
  } else {
    FUZZ_CHECK_MSG(is_valid_hostname(host), escaped(input) + " -> " + escaped(host));
    FUZZ_CHECK(hostname_problem(host).empty());
  }
}

void check_result(const ParseResult<HostPort>& result, std::string_view input, PortRule rule) {
  if (!result) {
    FUZZ_CHECK(!result.error.empty());
    FUZZ_CHECK_MSG(printable_ascii(result.error), escaped(result.error));
    return;
  }
  FUZZ_CHECK(result.error.empty());
  check_canonical_host(result->host, input);
  if (rule == PortRule::required) FUZZ_CHECK(result->port.has_value());
  if (result->port) FUZZ_CHECK(*result->port != 0);
  // Idempotent: the formatted authority reads back as itself.
  const std::string formatted = format_authority(*result);
  const auto again = parse_authority(formatted, rule);
  FUZZ_CHECK_MSG(again && *again.value == *result.value, escaped(input) + " -> " + escaped(formatted));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);

  const auto target = parse_connect_target(input);
  check_result(target, input, PortRule::required);
  if (target) {
    FUZZ_CHECK(target->port.has_value());
    const auto as_config = parse_authority(input, PortRule::required);
    FUZZ_CHECK_MSG(as_config && *as_config.value == *target.value, escaped(input));
  }
  check_result(parse_authority(input, PortRule::optional), input, PortRule::optional);

  const auto port = parse_port(input);
  if (port) {
    FUZZ_CHECK(*port != 0);
    FUZZ_CHECK_MSG(std::to_string(*port) == input || input.starts_with('0'), escaped(input));
  }

  const std::string normal = normalize_host(input);
  FUZZ_CHECK(normalize_host(normal) == normal || normal.empty() || normal.back() == '.' ||
             normal.front() == '[');
  if (const auto literal = canonical_ip_literal(input)) {
    FUZZ_CHECK_MSG(canonical_ip_literal(*literal) == *literal, escaped(*literal));
  }
  return 0;
}
