#pragma once
// The --config FILE (CONFIG_FILE): the same settings as the environment, in JSON or YAML.
//
// Keys are the environment variable names (REGISTRIES, CACHE_MAX_SIZE, ...); their lower-case or
// kebab-case flag spellings (registries, cache-max-size) are accepted too. Values are strings,
// numbers or booleans, written as the environment would spell them; the space-separated settings
// (REGISTRIES, AUTH_REGISTRIES, ...) may also be lists.
//
// DockerProxy's configuration keys (ServerPort, UseTLS, CertFilePath, KeyFilePath, ReadTimeout,
// WriteTimeout, IdleTimeout, CacheEvictionPeriod) are translated to the settings that do the same
// job here (see docs/deploy.md); they only fill settings the file does not set by their own name.
//
// Precedence (applied by parse_command_line): flags > environment > file > defaults.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace pt::app {

// One setting read from the file, as the environment would spell it.
struct FileSetting {
  std::string key;    // as written in the file, for messages ("ServerPort", "cache-max-size")
  std::string name;   // the setting's environment variable name ("MIRROR_LISTEN", "CACHE_MAX_SIZE")
  std::string value;  // text, as the environment variable would hold it
};

struct ConfigFileResult {
  std::vector<FileSetting> settings;
  std::string error;  // empty when the file is good; otherwise names the file and the key
};

// Parses the text of a configuration file. `origin` names the file in messages. JSON when the
// text starts with '{' or `origin` ends in .json, YAML otherwise. `known` lists the setting names
// (environment variable names) the proxy accepts; any other key is an error.
ConfigFileResult parse_config_text(std::string_view text, const std::string& origin,
                                   const std::vector<std::string>& known);

ConfigFileResult read_config_file(const std::filesystem::path& path, const std::vector<std::string>& known);

// A Go time.Duration string ("5m", "1h30m", "250ms", "0"), as DockerProxy's timeouts are written;
// a bare number is seconds. nullopt when it is not one.
std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view text);

// Reads the file and hands each of its settings to the option of that environment name in `app`,
// unless that option was given as a flag or its environment variable is set. Call after
// app.parse(). Returns the settings applied; `error` names the file and key of a bad value.
ConfigFileResult apply_config_file(CLI::App& app, const std::filesystem::path& path);

}  // namespace pt::app
