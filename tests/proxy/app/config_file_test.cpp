#include "proxy/app/config_file.hpp"
#include "proxy/app/config.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace pt;
using namespace pt::app;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kKnown = {
    "LISTEN",          "REGISTRIES",           "AUTH_REGISTRIES",         "AUTH_REGISTRIES_DELIMITER",
    "CACHE_MAX_SIZE",  "VERIFY_SSL",           "MIRROR_LISTEN",           "MIRROR_TLS_CERT",
    "MIRROR_TLS_KEY",  "HEADER_TIMEOUT",       "CLIENT_IDLE_TIMEOUT",     "ENABLE_MANIFEST_CACHE",
    "CONFIG_FILE",     "MANIFEST_CACHE_PRIMARY_REGEX", "MANIFEST_CACHE_SECONDARY_REGEX",
    "MANIFEST_CACHE_DEFAULT_TIME", "THREADS", "UPSTREAM_NO_PROXY", "REGISTRY_POLICY"};

std::map<std::string, std::string> values(const ConfigFileResult& r) {
  std::map<std::string, std::string> out;
  for (const auto& s : r.settings) out[s.name] = s.value;
  return out;
}

ConfigFileResult parse(std::string_view text, const std::string& origin = "test.yaml") {
  return parse_config_text(text, origin, kKnown);
}

}  // namespace

TEST_CASE("config file: JSON with the environment variable names") {
  const auto r = parse(R"({"REGISTRIES": "quay.io ghcr.io", "VERIFY_SSL": false, "THREADS": 4,
                           "CACHE_MAX_SIZE": "2g"})",
                       "proxy.json");
  REQUIRE(r.error.empty());
  const auto v = values(r);
  CHECK(v.at("REGISTRIES") == "quay.io ghcr.io");
  CHECK(v.at("VERIFY_SSL") == "false");
  CHECK(v.at("THREADS") == "4");
  CHECK(v.at("CACHE_MAX_SIZE") == "2g");
}

TEST_CASE("config file: YAML, flag spellings and lists") {
  const auto r = parse(R"(
# comment
registries:
  - quay.io
  - ghcr.io
cache-max-size: 10g
--listen: 127.0.0.1:3129
auth_registries_delimiter: ","
AUTH_REGISTRIES: ["quay.io:u:p", "ghcr.io:v:q"]
UPSTREAM_NO_PROXY: ["*.corp.example", 10.0.0.0/8]
)");
  REQUIRE(r.error.empty());
  const auto v = values(r);
  CHECK(v.at("REGISTRIES") == "quay.io ghcr.io");
  CHECK(v.at("CACHE_MAX_SIZE") == "10g");
  CHECK(v.at("LISTEN") == "127.0.0.1:3129");
  CHECK(v.at("AUTH_REGISTRIES") == "quay.io:u:p,ghcr.io:v:q");
  CHECK(v.at("UPSTREAM_NO_PROXY") == "*.corp.example 10.0.0.0/8");
  for (const auto& s : r.settings) {
    if (s.name == "CACHE_MAX_SIZE") CHECK(s.key == "cache-max-size");
  }
}

TEST_CASE("config file: an empty YAML file sets nothing; a null value is empty") {
  CHECK(parse("").error.empty());
  CHECK(parse("").settings.empty());
  const auto r = parse("MANIFEST_CACHE_PRIMARY_REGEX:\n");
  REQUIRE(r.error.empty());
  CHECK(values(r).at("MANIFEST_CACHE_PRIMARY_REGEX").empty());
}

TEST_CASE("config file: DockerProxy's keys") {
  const auto r = parse(R"({
   "ServerPort": "8080",
   "UseTLS": true,
   "CertFilePath": "/path/to/cert.pem",
   "KeyFilePath": "/path/to/key.pem",
   "ReadTimeout": "5m",
   "WriteTimeout": "5m",
   "IdleTimeout": "10m",
   "CacheEvictionPeriod": "1h30m"
  })");
  REQUIRE(r.error.empty());
  const auto v = values(r);
  CHECK(v.at("MIRROR_LISTEN") == ":8080");
  CHECK(v.at("MIRROR_TLS_CERT") == "/path/to/cert.pem");
  CHECK(v.at("MIRROR_TLS_KEY") == "/path/to/key.pem");
  CHECK(v.at("HEADER_TIMEOUT") == "300000ms");
  CHECK(v.at("CLIENT_IDLE_TIMEOUT") == "600000ms");  // the larger of WriteTimeout and IdleTimeout
  CHECK(v.at("ENABLE_MANIFEST_CACHE") == "true");
  CHECK(v.at("MANIFEST_CACHE_PRIMARY_REGEX").empty());
  CHECK(v.at("MANIFEST_CACHE_SECONDARY_REGEX").empty());
  CHECK(v.at("MANIFEST_CACHE_DEFAULT_TIME") == "5400000ms");
  for (const auto& s : r.settings) {
    if (s.name == "MIRROR_LISTEN") CHECK(s.key == "ServerPort");
    if (s.name == "CLIENT_IDLE_TIMEOUT") CHECK(s.key == "IdleTimeout");
  }
}

TEST_CASE("config file: DockerProxy without TLS ignores the certificate paths; numbers are accepted") {
  const auto r = parse("ServerPort: 5000\nUseTLS: false\nCertFilePath: /c.pem\nKeyFilePath: /k.pem\n"
                       "ReadTimeout: \"0\"\n");
  REQUIRE(r.error.empty());
  const auto v = values(r);
  CHECK(v.at("MIRROR_LISTEN") == ":5000");
  CHECK_FALSE(v.contains("MIRROR_TLS_CERT"));
  CHECK_FALSE(v.contains("HEADER_TIMEOUT"));  // Go's 0: no timeout, ours keeps its default
}

TEST_CASE("config file: a setting by its own name wins over the DockerProxy key") {
  const auto r = parse("ServerPort: 5000\nMIRROR_LISTEN: 127.0.0.1:6000\n");
  REQUIRE(r.error.empty());
  CHECK(values(r).at("MIRROR_LISTEN") == "127.0.0.1:6000");
  CHECK(r.settings.size() == 1);
}

TEST_CASE("config file: bad input names the file and the key") {
  struct Case {
    const char* text;
    const char* origin;
    const char* needle;
  };
  const Case cases[] = {
      {"NO_SUCH_SETTING: 1\n", "a.yaml", "key 'NO_SUCH_SETTING': unknown setting"},
      {R"({"REGISTRIES": {"a": 1}})", "a.json", "key 'REGISTRIES': expected a string, number or boolean, got an object"},
      {"LISTEN: [a, b]\n", "a.yaml", "key 'LISTEN': expected a string, number or boolean, got a list"},
      {"REGISTRIES: x\nregistries: y\n", "a.yaml", "key 'registries': set twice (also as 'REGISTRIES')"},
      {"ServerPort: http\n", "a.yaml", "key 'ServerPort': 'http' is not a port number"},
      {"ServerPort: 70000\n", "a.yaml", "key 'ServerPort'"},
      {"UseTLS: maybe\n", "a.yaml", "key 'UseTLS': 'maybe' is not a boolean"},
      {"UseTLS: true\nCertFilePath: /c\n", "a.yaml", "key 'UseTLS': UseTLS is true but KeyFilePath is not set"},
      {"IdleTimeout: 5 minutes\n", "a.yaml", "key 'IdleTimeout': '5 minutes' is not a duration"},
      {"CONFIG_FILE: other.yaml\n", "a.yaml", "key 'CONFIG_FILE'"},
      {"{\"LISTEN\": ", "a.json", "not valid JSON"},
      {"LISTEN: [\n", "a.yaml", "not valid YAML"},
      {"- a\n- b\n", "a.yaml", "the top level must be a mapping"},
      {"[1]", "a.json", "the top level must be an object"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto r = parse(c.text, c.origin);
    CHECK_THAT(r.error, Catch::Contains(std::string("config file ") + c.origin) && Catch::Contains(c.needle));
    CHECK(r.settings.empty());
  }
}

TEST_CASE("config file: a missing file is an error naming it") {
  const auto r = read_config_file("/nonexistent/pullthrough.yaml", kKnown);
  CHECK_THAT(r.error, Catch::Contains("/nonexistent/pullthrough.yaml") && Catch::Contains("cannot open"));
}

TEST_CASE("Go durations") {
  CHECK(parse_go_duration("5m") == 5min);
  CHECK(parse_go_duration("1h30m") == 90min);
  CHECK(parse_go_duration("1.5s") == 1500ms);
  CHECK_FALSE(parse_go_duration("99999999999999999999"));  // would overflow: refused, not undefined
  CHECK(parse_go_duration("250ms") == 250ms);
  CHECK(parse_go_duration("0") == 0ms);
  CHECK(parse_go_duration("30") == 30s);
  CHECK_FALSE(parse_go_duration(""));
  CHECK_FALSE(parse_go_duration("5d"));
  CHECK_FALSE(parse_go_duration("m"));
  CHECK_FALSE(parse_go_duration("5m3"));
  CHECK_FALSE(parse_go_duration("1..2s"));
}

// ---------------------------------------------------------------- through parse_command_line

namespace {

struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* value) : name(std::move(n)) { ::setenv(name.c_str(), value, 1); }
  ~EnvVar() { ::unsetenv(name.c_str()); }
};

// A file in a fresh temporary directory, removed with it.
struct TempFile {
  std::filesystem::path dir;
  std::filesystem::path path;
  TempFile(const std::string& name, const std::string& text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pt-config-file-XXXXXX").string();
    dir = ::mkdtemp(pattern.data());
    path = dir / name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove_all(dir); }
};

ConfigResult parse_args(std::vector<const char*> args) {
  args.insert(args.begin(), "pullthrough");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("--config: flags win over the environment, which wins over the file") {
  TempFile file("proxy.yaml", "REGISTRIES: quay.io\nCACHE_MAX_SIZE: 3g\nLISTEN: 127.0.0.1:4000\n"
                              "VERIFY_SSL: false\nclient-idle-timeout: 45s\n");
  EnvVar env("CACHE_MAX_SIZE", "5g");
  const auto r = parse_args({"--config", file.path.c_str(), "--listen", "127.0.0.1:5000"});
  REQUIRE(r.config);
  CHECK(r.config->registries == "quay.io");      // file
  CHECK(r.config->cache_max_bytes == 5ull << 30);  // env over file
  CHECK(r.config->listen == "127.0.0.1:5000");   // flag over file
  CHECK_FALSE(r.config->verify_ssl);
  CHECK(r.config->client_idle_timeout == 45s);
  CHECK(r.config->ca_dir == "/ca");  // default
}

TEST_CASE("CONFIG_FILE names the file too") {
  TempFile file("proxy.json", R"({"REGISTRIES": ["quay.io", "ghcr.io"], "THREADS": 3})");
  EnvVar env("CONFIG_FILE", file.path.c_str());
  const auto r = parse_args({});
  REQUIRE(r.config);
  CHECK(r.config->registries == "quay.io ghcr.io");
  CHECK(r.config->threads == 3);
}

TEST_CASE("--config: DockerProxy's file reaches the mirror listener and timeouts") {
  TempFile file("config", R"({"ServerPort": "8080", "UseTLS": true, "CertFilePath": "/c.pem",
    "KeyFilePath": "/k.pem", "ReadTimeout": "5m", "WriteTimeout": "5m", "IdleTimeout": "10m",
    "CacheEvictionPeriod": "10m"})");
  const auto r = parse_args({"--config", file.path.c_str()});
  REQUIRE(r.config);
  CHECK(r.config->mirror_listen == ":8080");
  CHECK(r.config->mirror_tls_cert == "/c.pem");
  CHECK(r.config->mirror_tls_key == "/k.pem");
  CHECK(r.config->header_timeout == 5min);
  CHECK(r.config->client_idle_timeout == 10min);
  CHECK(r.config->enable_manifest_cache == "true");
  CHECK(r.config->manifest_cache_primary_regex.empty());
  CHECK(r.config->manifest_cache_secondary_regex.empty());
  CHECK(r.config->manifest_cache_default_time == "600000ms");
}

TEST_CASE("--config: an empty environment variable still wins over the file") {
  TempFile file("proxy.yaml", "MANIFEST_CACHE_PRIMARY_REGEX: \"(beta)\"\nREGISTRIES: quay.io\n");
  EnvVar regex("MANIFEST_CACHE_PRIMARY_REGEX", "");
  EnvVar registries("REGISTRIES", "");
  const auto r = parse_args({"--config", file.path.c_str()});
  REQUIRE(r.config);
  CHECK(r.config->manifest_cache_primary_regex.empty());
  CHECK(r.config->registries.empty());
}

TEST_CASE("--config: bad files exit 2 naming the file and the key") {
  struct Case {
    const char* text;
    const char* needle;
  };
  const Case cases[] = {
      {"REGISTRIE: quay.io\n", "key 'REGISTRIE': unknown setting"},
      {"CACHE_MAX_SIZE: lots\n", "key 'CACHE_MAX_SIZE': invalid size 'lots'"},
      {"cache-inactive: forever\n", "key 'cache-inactive'"},
      {"THREADS: many\n", "key 'THREADS': invalid value 'many'"},
      {"VERIFY_SSL: perhaps\n", "key 'VERIFY_SSL'"},
      {"ServerPort: x\n", "key 'ServerPort'"},
      {"LISTEN: {a: 1}\n", "key 'LISTEN'"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    TempFile file("bad.yaml", c.text);
    const auto r = parse_args({"--config", file.path.c_str()});
    CHECK_FALSE(r.config);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.message, Catch::Contains(file.path.string()) && Catch::Contains(c.needle));
  }
  const auto missing = parse_args({"--config", "/nonexistent/pt.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.message, Catch::Contains("/nonexistent/pt.yaml"));
}

TEST_CASE("--config: a bad value the environment overrides is not an error") {
  TempFile file("proxy.yaml", "CACHE_MAX_SIZE: lots\n");
  EnvVar env("CACHE_MAX_SIZE", "1g");
  const auto r = parse_args({"--config", file.path.c_str()});
  REQUIRE(r.config);
  CHECK(r.config->cache_max_bytes == 1ull << 30);
}

TEST_CASE("config file: a JSON number out of range is an error, not a crash") {
  const auto r = parse(R"({"THREADS": 55.2550e2550})", "proxy.json");
  CHECK(r.settings.empty());
  CHECK(r.error.find("not valid JSON") != std::string::npos);
}

TEST_CASE("config file: REGISTRY_POLICY as a list of mappings becomes its environment form") {
  const auto yaml = parse(R"(
REGISTRY_POLICY:
  - registry: docker.io
    tag_freshness: 10m
    max_share: 50%
    deny: [library/evil*, library/bad]
  - registry: ghcr.io
    allow:
      - myorg/*
)");
  REQUIRE(yaml.error.empty());
  CHECK(values(yaml)["REGISTRY_POLICY"] ==
        "docker.io tag_freshness=10m max_share=50% deny=library/evil*,library/bad ; ghcr.io allow=myorg/*");

  const auto json = parse(R"({"REGISTRY_POLICY": [{"registry": "quay.io", "tag_freshness": 30, "allow": ["a/*"]}]})");
  REQUIRE(json.error.empty());
  // JSON objects come sorted by key; the registry comes first whatever its place.
  CHECK(values(json)["REGISTRY_POLICY"] == "quay.io allow=a/* tag_freshness=30");

  // A list of strings is one entry each; a string is the environment form itself.
  CHECK(values(parse("REGISTRY_POLICY: [docker.io deny=x, ghcr.io allow=y]"))["REGISTRY_POLICY"] ==
        "docker.io deny=x ; ghcr.io allow=y");
  CHECK(values(parse("REGISTRY_POLICY: docker.io deny=x"))["REGISTRY_POLICY"] == "docker.io deny=x");
}

TEST_CASE("config file: a malformed REGISTRY_POLICY list names the key and the entry") {
  const auto error = [](std::string_view text) {
    const auto r = parse(text);
    CHECK_FALSE(r.error.empty());
    return r.error;
  };
  CHECK(error("REGISTRY_POLICY:\n  - deny: [x]\n").find("key 'REGISTRY_POLICY': entry 1: no 'registry'") !=
        std::string::npos);
  CHECK(error("REGISTRY_POLICY:\n  - registry: a\n    deny: x\n  - registry: b\n    deny: 'x y'\n")
            .find("entry 2: deny") != std::string::npos);
  CHECK(error("REGISTRY_POLICY:\n  - registry: a\n    deny: {x: 1}\n").find("REGISTRY_POLICY") != std::string::npos);
  CHECK(error("REGISTRY_POLICY:\n  - registry: a\n  - b\n").find("REGISTRY_POLICY") != std::string::npos);
  // Other settings take no mappings.
  CHECK(error("REGISTRIES:\n  - registry: a\n").find("list of mappings") != std::string::npos);
}
