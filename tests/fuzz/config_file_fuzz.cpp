// Fuzzes the --config FILE reader (parse_config_text, JSON and YAML) and the Go durations of
// DockerProxy's keys. Invariants:
//   * no exception escapes: a bad file is an error message naming the file, never a crash;
//   * an accepted file yields each setting once, by a known name;
//   * writing the accepted settings back as a JSON file reads back the same settings;
//   * a Go duration is never negative, and its millisecond spelling reads back the same.
#include "fuzz_check.hpp"
#include "proxy/app/config_file.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using pt::fuzz::escaped;

// The settings parse_command_line() offers (their environment names); enough of them to reach
// every branch of the translator, lists and DockerProxy's targets included.
const std::vector<std::string>& known() {
  static const std::vector<std::string> names = {
      "LISTEN", "THREADS", "MIRROR_LISTEN", "MIRROR_TLS_CERT", "MIRROR_TLS_KEY", "MIRROR_UPSTREAM",
      "INTERCEPT_LISTEN", "RESOLVERS", "ALLOWED_CLIENTS", "PROXY_AUTH_FILE", "ALLOWED_CONNECT",
      "CACHE_AUTH_MODE", "ADMIN_TOKEN", "CA_DIR", "REGISTRIES", "UPSTREAM_RESOLVE", "VERIFY_SSL",
      "AUTH_REGISTRIES", "AUTH_REGISTRIES_DELIMITER", "AUTH_REGISTRY_DELIMITER", "ALLOW_PUSH",
      "CACHE_DIR", "CACHE_MAX_SIZE", "CACHE_INACTIVE", "ENABLE_MANIFEST_CACHE",
      "MANIFEST_CACHE_PRIMARY_REGEX", "MANIFEST_CACHE_PRIMARY_TIME", "MANIFEST_CACHE_SECONDARY_REGEX",
      "MANIFEST_CACHE_SECONDARY_TIME", "MANIFEST_CACHE_DEFAULT_TIME", "CONNECT_TIMEOUT", "HEADER_TIMEOUT",
      "CLIENT_IDLE_TIMEOUT", "UPSTREAM_IDLE_TIMEOUT", "MAX_HEADER_SIZE", "SHUTDOWN_GRACE", "MAX_CONNECTIONS", "LOG_FORMAT", "LOG_LEVEL",
      "CONFIG_FILE"};
  return names;
}

std::vector<std::pair<std::string, std::string>> named_values(const std::vector<pt::app::FileSetting>& settings) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : settings) out.emplace_back(s.name, s.value);
  std::sort(out.begin(), out.end());
  return out;
}

void check_settings(const pt::app::ConfigFileResult& result, const std::string& origin) {
  if (!result.error.empty()) {
    FUZZ_CHECK(result.settings.empty());
    FUZZ_CHECK_MSG(result.error.starts_with("config file " + origin + ": "), escaped(result.error));
    return;
  }
  std::set<std::string> names;
  for (const auto& s : result.settings) {
    FUZZ_CHECK_MSG(std::find(known().begin(), known().end(), s.name) != known().end(), escaped(s.name));
    FUZZ_CHECK_MSG(s.name != "CONFIG_FILE", escaped(s.key));
    FUZZ_CHECK_MSG(names.insert(s.name).second, "twice: " + s.name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider provider(bytes, size);
  const auto flags = provider.ConsumeIntegral<std::uint8_t>();
  const std::string duration = provider.ConsumeRandomLengthString(40);
  const std::string text = provider.ConsumeRemainingBytesAsString();

  if (const auto d = pt::app::parse_go_duration(duration)) {
    FUZZ_CHECK_MSG(d->count() >= 0, escaped(duration));
    const auto again = pt::app::parse_go_duration(std::to_string(d->count()) + "ms");
    FUZZ_CHECK(again && *again == *d);
  }

  const std::string origin = (flags & 1) ? "fuzz.json" : "fuzz.yaml";
  const auto result = pt::app::parse_config_text(text, origin, known());
  check_settings(result, origin);
  if (!result.error.empty()) return 0;

  // Written back as JSON by name, the settings read back the same.
  nlohmann::json object = nlohmann::json::object();
  for (const auto& s : result.settings) object[s.name] = s.value;
  std::string json_text;
  try {
    json_text = object.dump();
  } catch (const nlohmann::json::type_error&) {
    return 0;  // not UTF-8: YAML passes such bytes through, JSON cannot hold them
  }
  const auto again = pt::app::parse_config_text(json_text, "again.json", known());
  FUZZ_CHECK_MSG(again.error.empty(), escaped(json_text) + ": " + again.error);
  FUZZ_CHECK_MSG(named_values(again.settings) == named_values(result.settings), escaped(json_text));
  return 0;
}
