#include "proxy/app/live_settings.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

using namespace pt;
using namespace pt::app;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("pt-live-settings-" + std::to_string(random()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("parse_auth_registries_file: entries per line, comments, CRLF") {
  const auto credentials = parse_auth_registries_file(
      "# the registries\n\nregistry.test:alice:pa#ss\r\n  quay.io:robot:s3cret  ghcr.io:me:tok  \n   # indented comment\n"
      "myreg:5000:u:p",
      " ", ":");
  REQUIRE(credentials.size() == 4);
  CHECK(credentials[0].describe() == "alice@registry.test");
  CHECK(credentials[0].password == "pa#ss");  // a '#' inside an entry belongs to the password
  CHECK(credentials[1].describe() == "robot@quay.io");
  CHECK(credentials[2].describe() == "me@ghcr.io");
  CHECK(credentials[3].describe() == "u@myreg:5000");
  CHECK(parse_auth_registries_file("", " ", ":").empty());
  CHECK(parse_auth_registries_file("# only\n", " ", ":").empty());

  // Other delimiters, as AUTH_REGISTRIES_DELIMITER / AUTH_REGISTRY_DELIMITER say.
  const auto other = parse_auth_registries_file("a.io|||u|||p,b.io|||v|||q\nc.io|||w|||r\n", ",", "|||");
  CHECK(other.size() == 3);
}

TEST_CASE("parse_auth_registries_file: errors name the line, never the password") {
  try {
    parse_auth_registries_file("ok.io:u:p\n# comment\nregistry.test:alice\n", " ", ":");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("line 3: "));
  }
  // The same registry on two lines: refused when the set is built, naming both users.
  CHECK_THROWS_WITH(auth::CredentialStore(parse_auth_registries_file("a.io:u:hunter2\na.io:v:hunter3\n", " ", ":")),
                    Catch::Contains("two entries") && Catch::Contains("u@a.io") && !Catch::Contains("hunter"));
}

TEST_CASE("load_credentials: AUTH_REGISTRIES and AUTH_REGISTRIES_FILE together") {
  TempDir dir;
  Config config;
  config.auth_registries = "quay.io:robot:s3cret";
  config.auth_registries_file = dir.path / "auth";
  write(config.auth_registries_file, "registry.test:alice:right\n");
  const auto store = load_credentials(config);
  CHECK(store.all().size() == 2);
  CHECK(store.find("registry.test", 443)->password == "right");

  const auto registries = load_registries(config, store);
  CHECK(registries.intercepts("registry.test", 443));  // a credential's registry is intercepted

  write(config.auth_registries_file, "quay.io:other:x\n");  // the same registry in both
  CHECK_THROWS_WITH(load_credentials(config), Catch::Contains("AUTH_REGISTRIES_FILE") && Catch::Contains("two entries"));
  config.auth_registries_file = dir.path / "missing";
  CHECK_THROWS_WITH(load_credentials(config), Catch::Contains("cannot be read"));
}

TEST_CASE("stamp_of follows symlinks: a Kubernetes Secret update is a new inode") {
  TempDir dir;
  const auto file = dir.path / "auth";
  CHECK_FALSE(stamp_of(file).exists);
  // The Secret volume layout: auth -> ..data/auth, ..data -> ..2024_01 (a directory).
  fs::create_directories(dir.path / "..v1");
  write(dir.path / "..v1" / "auth", "a.io:u:p\n");
  fs::create_directory_symlink("..v1", dir.path / "..data");
  fs::create_symlink("..data/auth", file);
  const auto first = stamp_of(file);
  CHECK(first.exists);
  CHECK(first == stamp_of(file));
  // The update: a new directory, then ..data swapped to it by rename.
  fs::create_directories(dir.path / "..v2");
  write(dir.path / "..v2" / "auth", "a.io:u:q\n");
  fs::create_directory_symlink("..v2", dir.path / "..data_tmp");
  fs::rename(dir.path / "..data_tmp", dir.path / "..data");
  const auto second = stamp_of(file);
  CHECK(second.exists);
  CHECK_FALSE(second == first);
}

TEST_CASE("LiveSettings::reload swaps in a good file and keeps the old set on a broken one") {
  TempDir dir;
  Config config;
  config.registries = "registry.test";
  config.auth_registries_file = dir.path / "auth";
  write(config.auth_registries_file, "registry.test:alice:wrong\n");
  auto credentials = load_credentials(config);
  auto registries = load_registries(config, credentials);
  LiveSettings live(config, {}, credentials, registries);

  const auto in_flight = credentials.find("registry.test", 443);
  write(config.auth_registries_file, "registry.test:alice:right\nnew.io:bob:pw\n");
  CHECK(live.reload("test", false));
  CHECK(credentials.find("registry.test", 443)->password == "right");
  CHECK(in_flight->password == "wrong");
  CHECK(registries.intercepts("new.io", 443));  // a new credential's registry is intercepted from now on

  write(config.auth_registries_file, "registry.test:alice\n");  // broken: no password
  CHECK_FALSE(live.reload("test", false));
  CHECK(credentials.find("registry.test", 443)->password == "right");
  CHECK(registries.intercepts("new.io", 443));

  // SIGHUP re-reads the configuration too: REGISTRIES from it.
  write(config.auth_registries_file, "registry.test:alice:right\n");
  LiveSettings with_config(config, [&] {
    ConfigResult result;
    result.config = config;
    result.config->registries = "ghcr.io";
    return result;
  }, credentials, registries);
  CHECK(with_config.reload("SIGHUP", true));
  CHECK(registries.intercepts("ghcr.io", 443));
  CHECK_FALSE(registries.intercepts("new.io", 443));
  CHECK(registries.intercepts("registry.test", 443));  // still: it has a credential

  LiveSettings broken_config(config, [] { return ConfigResult{std::nullopt, "pullthrough: bad\n", 2}; }, credentials,
                             registries);
  CHECK_FALSE(broken_config.reload("SIGHUP", true));
  CHECK(registries.intercepts("ghcr.io", 443));
}

TEST_CASE("SIGHUP reloads ALLOWED_CLIENTS and ALLOWED_CONNECT, all or nothing") {
  Config config;
  config.registries = "registry.test";
  config.auth_registries = "registry.test:alice:right";
  config.allowed_clients = "127.0.0.1";
  auto credentials = load_credentials(config);
  auto registries = load_registries(config, credentials);
  front::ConnectionLimits limits(load_allowed_clients(config), 10, 1);
  auto tunnels = load_connect_policy(config, registries);
  const auto loopback = asio::ip::make_address("127.0.0.1");
  const auto other = asio::ip::make_address("127.0.0.2");

  auto held = limits.admit(loopback);  // a connection admitted before the reload
  REQUIRE(held.verdict == front::ConnectionLimits::Verdict::admitted);
  CHECK(limits.admit(other).verdict == front::ConnectionLimits::Verdict::client_not_allowed);
  CHECK_FALSE(tunnels.allows("mirror.test", 5000));

  Config next = config;  // what the configuration file says now
  LiveSettings live(config, [&] { return ConfigResult{next, "", 0}; }, credentials, registries,
                    {.clients = &limits, .tunnels = &tunnels});

  next.allowed_clients = "127.0.0.2/32";
  next.registries = "registry.test mirror.test:5000";  // ALLOWED_CONNECT's default follows REGISTRIES' ports
  next.max_connections_per_client = 100;               // waits for a restart
  REQUIRE(live.reload("SIGHUP", true));
  const auto after = limits.admit(other);
  CHECK(after.verdict == front::ConnectionLimits::Verdict::admitted);
  CHECK(limits.admit(loopback).verdict == front::ConnectionLimits::Verdict::client_not_allowed);
  CHECK(limits.active() == 2);  // the connection admitted before still holds its place
  CHECK(limits.admit(other).verdict == front::ConnectionLimits::Verdict::too_many_from_client);  // still 1
  CHECK(tunnels.allows("anything.test", 5000));
  CHECK(tunnels.allows("anything.test", 443));

  next.allowed_connect = "git.test:22";
  REQUIRE(live.reload("SIGHUP", true));
  CHECK(tunnels.allows("git.test", 22));
  CHECK_FALSE(tunnels.allows("anything.test", 443));

  // One bad value keeps every setting: credentials, registries and both lists.
  next.auth_registries = "registry.test:alice:new";
  next.registries = "registry.test ghcr.io";
  next.allowed_connect = "";
  next.allowed_clients = "127.0.0.3/8";  // not a network address
  CHECK_FALSE(live.reload("SIGHUP", true));
  CHECK(credentials.find("registry.test", 443)->password == "right");
  CHECK_FALSE(registries.intercepts("ghcr.io", 443));
  CHECK(limits.allowed_entries() == std::vector<std::string>{"127.0.0.2/32"});
  CHECK(tunnels.allows("git.test", 22));
  CHECK_FALSE(tunnels.allows("anything.test", 443));

  next.allowed_clients = "127.0.0.0/8";
  next.allowed_connect = "70000";  // a bad ALLOWED_CONNECT too
  CHECK_FALSE(live.reload("SIGHUP", true));
  CHECK(limits.allowed_entries() == std::vector<std::string>{"127.0.0.2/32"});
  CHECK(credentials.find("registry.test", 443)->password == "right");

  // The AUTH_REGISTRIES_FILE reload (no configuration re-read) keeps the lists of the last SIGHUP.
  next.allowed_connect = "";
  REQUIRE(live.reload("SIGHUP", true));
  REQUIRE(live.reload("AUTH_REGISTRIES_FILE changed", false));
  CHECK(limits.allowed_entries() == std::vector<std::string>{"127.0.0.0/8"});
  CHECK(tunnels.allows("anything.test", 443));
  CHECK(registries.intercepts("ghcr.io", 443));
}

TEST_CASE("SIGHUP reloads REGISTRY_MIRRORS; a bad chain keeps the old one and every other setting") {
  Config config;
  config.registries = "registry.test";
  config.auth_registries = "registry.test:alice:right";
  config.registry_mirrors = "registry.test=mirror.test,registry.test";
  auto credentials = load_credentials(config);
  auto registries = load_registries(config, credentials);
  auto chains = load_registry_mirrors(config);
  const auto before = chains.chain_for("registry.test", 443);  // a request in flight keeps its chain
  REQUIRE(before);
  REQUIRE(before->size() == 2);

  Config next = config;
  LiveSettings live(config, [&] { return ConfigResult{next, "", 0}; }, credentials, registries, {.fallbacks = &chains});
  next.registry_mirrors = "registry.test=backup.test:5000/hub";
  REQUIRE(live.reload("SIGHUP", true));
  const auto after = chains.chain_for("registry.test", 443);
  REQUIRE(after);
  CHECK(after->front().name() == "backup.test:5000/hub");
  CHECK(before->front().name() == "mirror.test");

  next.registry_mirrors = "registry.test";  // no '='
  next.auth_registries = "registry.test:alice:new";
  CHECK_FALSE(live.reload("SIGHUP", true));
  CHECK(chains.chain_for("registry.test", 443)->front().name() == "backup.test:5000/hub");
  CHECK(credentials.find("registry.test", 443)->password == "right");

  next.registry_mirrors = "";
  REQUIRE(live.reload("SIGHUP", true));
  CHECK_FALSE(chains.chain_for("registry.test", 443));
}
