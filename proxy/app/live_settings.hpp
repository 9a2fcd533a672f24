#pragma once
// The settings that change while the proxy runs: the credentials (AUTH_REGISTRIES and
// AUTH_REGISTRIES_FILE), the intercepted registries (REGISTRIES), their upstreams
// (REGISTRY_MIRRORS) and the access lists (ALLOWED_CLIENTS, ALLOWED_CONNECT). They are re-read when AUTH_REGISTRIES_FILE changes on disk and
// on SIGHUP, which also re-reads the configuration file.
//
// Each reload builds new immutable sets and swaps them into the CredentialStore, the RegistryMatcher,
// the UpstreamFallbacks, the ConnectionLimits and the ConnectPolicy the sessions and listeners hold (see there): a request
// goes on with the credential it looked up, connections and tunnels stay open, the next lookup,
// accepted connection or CONNECT sees the new set. A reload is all-or-nothing: whatever fails to
// parse keeps every previous setting, and the log says why.
#include "auth/cidr_list.hpp"
#include "auth/connect_policy.hpp"
#include "auth/credentials.hpp"
#include "auth/registry_matcher.hpp"
#include "proxy/app/config.hpp"
#include "proxy/front/connection_limits.hpp"
#include "proxy/registry/upstream_fallbacks.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/signal_set.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pt::app {

// AUTH_REGISTRIES_FILE's text: entries in AUTH_REGISTRIES syntax (its delimiters), any number per
// line; blank lines and lines starting with '#' are skipped (a '#' elsewhere belongs to a password).
// Throws std::invalid_argument naming the line, never a password.
std::vector<auth::Credential> parse_auth_registries_file(std::string_view text, std::string_view entry_delimiter,
                                                         std::string_view field_delimiter);

// AUTH_REGISTRIES and AUTH_REGISTRIES_FILE together (the same registry in both is refused). Throws
// std::invalid_argument or std::runtime_error (an unreadable file), naming the file.
auth::CredentialStore load_credentials(const Config& config);

// REGISTRIES plus every host that has a credential: a registry we hold credentials for is one the
// user wants intercepted. Throws std::invalid_argument.
auth::RegistryMatcher load_registries(const Config& config, const auth::CredentialStore& credentials);

// ALLOWED_CLIENTS. Throws std::invalid_argument naming the setting.
auth::CidrList load_allowed_clients(const Config& config);

// REGISTRY_MIRRORS. Throws std::invalid_argument naming the setting.
registry::UpstreamFallbacks load_registry_mirrors(const Config& config);

// ALLOWED_CONNECT. Its default (empty) is port 443 plus the ports `registries` names, so it is
// computed again whenever the registries are. Throws std::invalid_argument naming the setting.
auth::ConnectPolicy load_connect_policy(const Config& config, const auth::RegistryMatcher& registries);

// What identifies a file's content on disk, through symlinks: a Kubernetes Secret update swaps the
// `..data` symlink, so the path's inode changes while the old one stays as it was.
struct FileStamp {
  bool exists = false;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_of(const std::filesystem::path& path);

// What else a reload swaps; a null member is left alone (tests without listeners or sessions).
struct AlsoReloaded {
  front::ConnectionLimits* clients = nullptr;  // ALLOWED_CLIENTS (not MAX_CONNECTIONS*: they stay as started)
  auth::ConnectPolicy* tunnels = nullptr;      // ALLOWED_CONNECT
  registry::UpstreamFallbacks* fallbacks = nullptr;  // REGISTRY_MIRRORS
};

class LiveSettings {
public:
  // `reread`: the configuration as the command line, environment and configuration file give it
  // now (parse_command_line again); empty: SIGHUP re-reads only AUTH_REGISTRIES_FILE.
  LiveSettings(Config startup, std::function<ConfigResult()> reread, auth::CredentialStore& credentials,
               auth::RegistryMatcher& registries, AlsoReloaded also = {});

  // Re-reads and swaps in; on failure keeps everything and logs why. `why` goes in the log.
  bool reload(std::string_view why, bool reread_config);

  // From now on SIGHUP reloads (instead of killing the process, its default), and
  // AUTH_REGISTRIES_FILE is checked every `poll`; both on `executor`, until it stops.
  void start(const asio::any_io_executor& executor, std::chrono::milliseconds poll);

private:
  asio::awaitable<void> watch_file(std::chrono::milliseconds poll);
  asio::awaitable<void> watch_signal();
  // Logs the settings the reread configuration changes that wait for a restart (MAX_CONNECTIONS*).
  void warn_restart_only(std::string_view why, const Config& reread) const;

  std::mutex mutex_;  // one reload at a time (the signal and the file watch may both fire)
  std::optional<asio::signal_set> signals_;
  Config config_;
  std::function<ConfigResult()> reread_;
  auth::CredentialStore& credentials_;
  auth::RegistryMatcher& registries_;
  AlsoReloaded also_;
  FileStamp file_stamp_;
};

}  // namespace pt::app
