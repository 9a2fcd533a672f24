#include "proxy/app/config_file.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace pt::app {
namespace {

// A value from either format, before it is turned into environment text.
// One mapping of a list of mappings (REGISTRY_POLICY): its keys in order, each with a scalar
// (one item) or a list of scalars.
using RawRecord = std::vector<std::pair<std::string, std::vector<std::string>>>;

struct RawValue {
  enum class Kind { scalar, list, records, other };
  Kind kind = Kind::scalar;
  std::string text;                // scalar (null reads as "")
  std::vector<std::string> items;  // list of scalars
  std::vector<RawRecord> records;  // list of mappings
  std::string type_name;           // other: what it was, for the message
};
using RawSettings = std::vector<std::pair<std::string, RawValue>>;

// A parse failure of the file as a whole (syntax, top level not a mapping).
struct FileError {
  std::string message;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

bool looks_like_json(std::string_view text, const std::string& origin) {
  if (lower(origin).ends_with(".json")) return true;
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

RawValue json_value(const nlohmann::json& v) {
  RawValue out;
  if (v.is_string()) {
    out.text = v.get<std::string>();
  } else if (v.is_boolean()) {
    out.text = v.get<bool>() ? "true" : "false";
  } else if (v.is_number()) {
    out.text = v.dump();
  } else if (v.is_null()) {
    out.text = "";
  } else if (v.is_array() && !v.empty() && v.front().is_object()) {
    out.kind = RawValue::Kind::records;
    for (const auto& item : v) {
      if (!item.is_object()) return {RawValue::Kind::other, "", {}, {}, "a list of objects and non-objects"};
      RawRecord record;
      for (const auto& [key, field] : item.items()) {
        const auto inner = json_value(field);
        if (inner.kind == RawValue::Kind::scalar) record.push_back({key, {inner.text}});
        else if (inner.kind == RawValue::Kind::list) record.push_back({key, inner.items});
        else return {RawValue::Kind::other, "", {}, {}, "a list of objects holding objects"};
      }
      out.records.push_back(std::move(record));
    }
  } else if (v.is_array()) {
    out.kind = RawValue::Kind::list;
    for (const auto& item : v) {
      const auto inner = json_value(item);
      if (inner.kind != RawValue::Kind::scalar) return {RawValue::Kind::other, "", {}, {}, "a list of non-scalars"};
      out.items.push_back(inner.text);
    }
  } else {
    return {RawValue::Kind::other, "", {}, {}, "an object"};
  }
  return out;
}

RawSettings parse_json(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse errors, and numbers out of range (found by fuzzing)
    throw FileError{fmt::format("not valid JSON: {}", e.what())};
  }
  if (!doc.is_object()) throw FileError{"the top level must be an object of settings"};
  RawSettings out;
  for (const auto& [key, value] : doc.items()) out.emplace_back(key, json_value(value));
  return out;
}

RawValue yaml_value(const YAML::Node& v) {
  RawValue out;
  switch (v.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.text = "";
      return out;
    case YAML::NodeType::Scalar:
      out.text = v.Scalar();
      return out;
    case YAML::NodeType::Sequence:
      if (v.size() > 0 && v[0].IsMap()) {
        out.kind = RawValue::Kind::records;
        for (const auto& item : v) {
          if (!item.IsMap()) return {RawValue::Kind::other, "", {}, {}, "a list of mappings and non-mappings"};
          RawRecord record;
          for (const auto& field : item) {
            if (!field.first.IsScalar()) return {RawValue::Kind::other, "", {}, {}, "a mapping with a non-scalar key"};
            const auto inner = yaml_value(field.second);
            if (inner.kind == RawValue::Kind::scalar) record.push_back({field.first.Scalar(), {inner.text}});
            else if (inner.kind == RawValue::Kind::list) record.push_back({field.first.Scalar(), inner.items});
            else return {RawValue::Kind::other, "", {}, {}, "a list of mappings holding mappings"};
          }
          out.records.push_back(std::move(record));
        }
        return out;
      }
      out.kind = RawValue::Kind::list;
      for (const auto& item : v) {
        if (!item.IsScalar()) return {RawValue::Kind::other, "", {}, {}, "a list of non-scalars"};
        out.items.push_back(item.Scalar());
      }
      return out;
    case YAML::NodeType::Map:
      return {RawValue::Kind::other, "", {}, {}, "a mapping"};
  }
  return {RawValue::Kind::other, "", {}, {}, "an unknown YAML node"};
}

RawSettings parse_yaml(std::string_view text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw FileError{fmt::format("not valid YAML: {}", e.what())};
  }
  if (doc.IsNull()) return {};  // an empty file sets nothing
  if (!doc.IsMap()) throw FileError{"the top level must be a mapping of settings"};
  RawSettings out;
  for (const auto& entry : doc) {
    if (!entry.first.IsScalar()) throw FileError{"setting names must be plain strings"};
    out.emplace_back(entry.first.Scalar(), yaml_value(entry.second));
  }
  return out;
}

// Settings whose value is a space-separated list; a file may write them as lists.
bool takes_list(const std::string& name) {
  static const std::set<std::string> names = {"REGISTRIES",      "AUTH_REGISTRIES", "UPSTREAM_RESOLVE",
                                              "ALLOWED_CLIENTS", "ALLOWED_CONNECT", "RESOLVERS",
                                              "CACHE_AUTH_MODE", "UPSTREAM_NO_PROXY", "REGISTRY_MIRRORS",
                                              "REGISTRY_POLICY"};
  return names.contains(name);
}

// "cache-max-size", "cache_max_size", "--cache-max-size" -> "CACHE_MAX_SIZE".
std::string canonical_name(std::string_view key) {
  if (key.starts_with("--")) key.remove_prefix(2);
  std::string out(key);
  for (auto& ch : out) ch = ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// DockerProxy's keys (seed 000), matched case-insensitively as Go's encoding/json does.
const std::vector<std::string>& docker_proxy_keys() {
  static const std::vector<std::string> keys = {"ServerPort",   "UseTLS",       "CertFilePath", "KeyFilePath",
                                                "ReadTimeout",  "WriteTimeout", "IdleTimeout",  "CacheEvictionPeriod"};
  return keys;
}

std::optional<std::string> docker_proxy_key(std::string_view key) {
  for (const auto& k : docker_proxy_keys()) {
    if (lower(k) == lower(key)) return k;
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  const auto t = lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

std::string millis_text(std::chrono::milliseconds ms) { return fmt::format("{}ms", ms.count()); }

// REGISTRY_POLICY written as a list of mappings ({registry: docker.io, deny: [library/evil*]}) in
// its environment form: "docker.io deny=library/evil* ; ...". Only the shape is checked here; the
// fields and values are cache::RegistryPolicy's to judge, at start-up.
std::string policy_text(const std::vector<RawRecord>& records) {
  const auto bad = [](std::string_view text) { return text.empty() || text.find_first_of(" \t\r\n;=") != std::string_view::npos; };
  std::vector<std::string> entries;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string scope;
    std::vector<std::string> fields;
    for (const auto& [name, values] : records[i]) {
      if (name == "registry") {
        if (values.size() != 1 || bad(values.front())) {
          throw FileError{fmt::format("entry {}: 'registry' must be one registry name (docker.io, ghcr.io/myorg/*)", i + 1)};
        }
        scope = values.front();
        continue;
      }
      if (bad(name)) throw FileError{fmt::format("entry {}: '{}' is not a field name", i + 1, name)};
      for (const auto& value : values) {
        if (bad(value)) {
          throw FileError{fmt::format("entry {}: {}: '{}' may not be empty or hold spaces, ';' or '='", i + 1, name, value)};
        }
      }
      fields.push_back(fmt::format("{}={}", name, fmt::join(values, ",")));
    }
    if (scope.empty()) throw FileError{fmt::format("entry {}: no 'registry'", i + 1)};
    entries.push_back(fmt::format("{}{}{}", scope, fields.empty() ? "" : " ", fmt::join(fields, " ")));
  }
  return fmt::format("{}", fmt::join(entries, " ; "));
}

class Translator {
public:
  Translator(const std::string& origin, const std::vector<std::string>& known)
      : origin_(origin), known_(known.begin(), known.end()) {}

  void add(const std::string& key, const RawValue& value) {
    if (auto dp = docker_proxy_key(key)) {
      if (value.kind != RawValue::Kind::scalar) fail(key, fmt::format("expected a string, got {}", kind_name(value)));
      if (docker_proxy_.contains(*dp)) fail(key, fmt::format("set twice (also as '{}')", docker_proxy_[*dp].first));
      docker_proxy_[*dp] = {key, value.text};
      return;
    }
    std::string name = known_.contains(key) ? key : canonical_name(key);
    if (name == "CONFIG_FILE") fail(key, "a configuration file cannot name another one");
    if (!known_.contains(name)) {
      fail(key, "unknown setting (keys are the environment variable names, e.g. REGISTRIES or CACHE_MAX_SIZE; "
                "see pullthrough --help)");
    }
    if (auto it = seen_.find(name); it != seen_.end()) fail(key, fmt::format("set twice (also as '{}')", it->second));
    seen_[name] = key;
    switch (value.kind) {
      case RawValue::Kind::scalar:
        settings_.push_back({key, name, value.text});
        break;
      case RawValue::Kind::list:
        if (!takes_list(name)) fail(key, "expected a string, number or boolean, got a list");
        lists_.push_back({key, name, ""});
        list_items_.push_back(value.items);
        break;
      case RawValue::Kind::records:
        if (name != "REGISTRY_POLICY") fail(key, "expected a string, number or boolean, got a list of mappings");
        try {
          settings_.push_back({key, name, policy_text(value.records)});
        } catch (const FileError& e) {
          fail(key, e.message);
        }
        break;
      case RawValue::Kind::other:
        fail(key, fmt::format("expected a string, number or boolean, got {}", value.type_name));
    }
  }

  std::vector<FileSetting> finish() {
    // Lists are joined last: AUTH_REGISTRIES joins with the file's own AUTH_REGISTRIES_DELIMITER.
    std::string auth_delimiter = " ";
    for (const auto& s : settings_) {
      if (s.name == "AUTH_REGISTRIES_DELIMITER") auth_delimiter = s.value;
    }
    for (std::size_t i = 0; i < lists_.size(); ++i) {
      auto s = lists_[i];
      // A REGISTRY_POLICY list of strings is one entry per item.
      const std::string separator = s.name == "AUTH_REGISTRIES" ? auth_delimiter : s.name == "REGISTRY_POLICY" ? " ; " : " ";
      s.value = fmt::format("{}", fmt::join(list_items_[i], separator));
      settings_.push_back(std::move(s));
    }
    translate_docker_proxy();
    return std::move(settings_);
  }

private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw FileError{fmt::format("key '{}': {}", key, what)};
  }

  static std::string kind_name(const RawValue& v) {
    return v.kind == RawValue::Kind::list ? "a list" : v.type_name;
  }

  // A DockerProxy setting only fills a setting the file does not set by its own name.
  void derive(const std::string& key, const std::string& name, std::string value) {
    if (seen_.contains(name)) return;
    seen_[name] = key;
    settings_.push_back({key, name, std::move(value)});
  }

  std::optional<std::pair<std::string, std::chrono::milliseconds>> duration(const std::string& dp_key) {
    auto it = docker_proxy_.find(dp_key);
    if (it == docker_proxy_.end()) return std::nullopt;
    const auto& [key, text] = it->second;
    auto d = parse_go_duration(text);
    if (!d) fail(key, fmt::format("'{}' is not a duration (Go syntax: 30s, 5m, 1h30m)", text));
    return std::pair{key, *d};
  }

  void translate_docker_proxy() {
    if (auto it = docker_proxy_.find("ServerPort"); it != docker_proxy_.end()) {
      const auto& [key, text] = it->second;
      std::string_view port = text;
      if (port.starts_with(':')) port.remove_prefix(1);
      unsigned long number = 0;
      const bool digits = !port.empty() && port.size() <= 5 &&
                          std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) number = std::stoul(std::string(port));
      if (number == 0 || number > 65535) fail(key, fmt::format("'{}' is not a port number", text));
      // DockerProxy served registries on that port: here that is the registry-mirror listener.
      derive(key, "MIRROR_LISTEN", fmt::format(":{}", number));
    }
    bool use_tls = false;
    if (auto it = docker_proxy_.find("UseTLS"); it != docker_proxy_.end()) {
      auto b = parse_bool(it->second.second);
      if (!b) fail(it->second.first, fmt::format("'{}' is not a boolean (true or false)", it->second.second));
      use_tls = *b;
    }
    // Without UseTLS, DockerProxy ignored the certificate paths, and so do we.
    if (use_tls) {
      for (auto [dp_key, name] : {std::pair{"CertFilePath", "MIRROR_TLS_CERT"}, std::pair{"KeyFilePath", "MIRROR_TLS_KEY"}}) {
        auto it = docker_proxy_.find(dp_key);
        if (it == docker_proxy_.end() || it->second.second.empty()) {
          fail(docker_proxy_.at("UseTLS").first, fmt::format("UseTLS is true but {} is not set", dp_key));
        }
        derive(it->second.first, name, it->second.second);
      }
    }
    // Go's zero duration means "no timeout": leave ours at its default then.
    if (auto read = duration("ReadTimeout"); read && read->second.count() > 0) {
      derive(read->first, "HEADER_TIMEOUT", millis_text(read->second));
    }
    // Our client idle timeout is the one that ends a connection on which nothing moves, waiting for
    // a request (IdleTimeout) or stuck writing to a client that stopped reading (WriteTimeout).
    // There is no cap on a whole response: it would cut large blob downloads. The larger of the two
    // never ends a connection that DockerProxy would have kept.
    std::optional<std::pair<std::string, std::chrono::milliseconds>> idle;
    for (const char* k : {"WriteTimeout", "IdleTimeout"}) {
      if (auto d = duration(k); d && d->second.count() > 0 && (!idle || d->second > idle->second)) idle = d;
    }
    if (idle) derive(idle->first, "CLIENT_IDLE_TIMEOUT", millis_text(idle->second));
    // DockerProxy cached registry metadata (manifests) and evicted it after this period; here that
    // is one freshness window for every tag manifest.
    if (auto period = duration("CacheEvictionPeriod"); period && period->second.count() > 0) {
      derive(period->first, "ENABLE_MANIFEST_CACHE", "true");
      derive(period->first, "MANIFEST_CACHE_PRIMARY_REGEX", "");
      derive(period->first, "MANIFEST_CACHE_SECONDARY_REGEX", "");
      derive(period->first, "MANIFEST_CACHE_DEFAULT_TIME", millis_text(period->second));
    }
  }

  std::string origin_;
  std::set<std::string> known_;
  std::vector<FileSetting> settings_;
  std::vector<FileSetting> lists_;
  std::vector<std::vector<std::string>> list_items_;
  std::map<std::string, std::string> seen_;                                     // name -> key
  std::map<std::string, std::pair<std::string, std::string>> docker_proxy_;  // canonical key -> (key, text)
};

}  // namespace

std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    try {
      std::size_t used = 0;
      const double seconds = std::stod(std::string(text), &used);
      // The same bound as below: a cast of a larger double would be undefined behaviour.
      if (used != text.size() || !(seconds * 1000 <= 1e15)) return std::nullopt;
      return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  // Go: a sequence of decimal numbers, each with a unit: ns, us (µs), ms, s, m, h.
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto number_end = text.find_first_not_of("0123456789.", i);
    if (number_end == i || number_end == std::string_view::npos) return std::nullopt;
    double value = 0;
    try {
      std::size_t used = 0;
      const std::string number(text.substr(i, number_end - i));
      value = std::stod(number, &used);
      if (used != number.size()) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
    auto unit_end = text.find_first_of("0123456789.", number_end);
    if (unit_end == std::string_view::npos) unit_end = text.size();
    const auto unit = text.substr(number_end, unit_end - number_end);
    double ms_per_unit = 0;
    if (unit == "ns") ms_per_unit = 1e-6;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") ms_per_unit = 1e-3;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "s") ms_per_unit = 1e3;
    else if (unit == "m") ms_per_unit = 60e3;
    else if (unit == "h") ms_per_unit = 3600e3;
    else return std::nullopt;
    total_ms += value * ms_per_unit;
    i = unit_end;
  }
  if (total_ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms));
}

ConfigFileResult parse_config_text(std::string_view text, const std::string& origin,
                                   const std::vector<std::string>& known) {
  try {
    const auto raw = looks_like_json(text, origin) ? parse_json(text) : parse_yaml(text);
    Translator translator(origin, known);
    for (const auto& [key, value] : raw) translator.add(key, value);
    return {translator.finish(), ""};
  } catch (const FileError& e) {
    return {{}, fmt::format("config file {}: {}", origin, e.message)};
  }
}

ConfigFileResult read_config_file(const std::filesystem::path& path, const std::vector<std::string>& known) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {{}, fmt::format("config file {}: cannot open it", path.string())};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return {{}, fmt::format("config file {}: cannot read it", path.string())};
  return parse_config_text(text.str(), path.string(), known);
}

ConfigFileResult apply_config_file(CLI::App& app, const std::filesystem::path& path) {
  std::vector<std::string> known;
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->get_envname().empty()) known.push_back(opt->get_envname());
  }
  auto read = read_config_file(path, known);
  if (!read.error.empty()) return read;
  ConfigFileResult applied;
  for (auto& s : read.settings) {
    CLI::Option* opt = nullptr;
    for (CLI::Option* o : app.get_options()) {
      if (o->get_envname() == s.name) opt = o;
    }
    if (!opt) continue;  // cannot happen: names were checked against `known`
    // A flag, or the environment variable even when empty (an explicit "unset"), wins.
    if (opt->count() > 0 || std::getenv(s.name.c_str()) != nullptr) continue;
    try {
      opt->add_result(s.value);
      opt->run_callback();
    } catch (const CLI::Error&) {
      return {{}, fmt::format("config file {}: key '{}': invalid value '{}' for {}", path.string(), s.key, s.value,
                              s.name)};
    }
    applied.settings.push_back(std::move(s));
  }
  return applied;
}

}  // namespace pt::app
