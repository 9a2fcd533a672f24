#include "proxy/app/live_settings.hpp"

#include "auth/auth_registries.hpp"
#include "common/ascii.hpp"
#include "common/awaitable.hpp"

#include <asio/co_spawn.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pt::app {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("AUTH_REGISTRIES_FILE {}: cannot be read", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("AUTH_REGISTRIES_FILE {}: read error", path.string()));
  return std::move(text).str();
}

std::string describe(const auth::CredentialStore& credentials) {
  std::vector<std::string> names;
  for (const auto& credential : *credentials.snapshot()) names.push_back(credential.describe());
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, " "));
}

std::string describe(const std::vector<std::string>& entries) {
  return entries.empty() ? "none" : fmt::format("{}", fmt::join(entries, " "));
}

}  // namespace

std::vector<auth::Credential> parse_auth_registries_file(std::string_view text, std::string_view entry_delimiter,
                                                         std::string_view field_delimiter) {
  std::vector<auth::Credential> credentials;
  std::size_t line_number = 0;
  for (auto line : split_exact(text, "\n")) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    try {
      auto store = auth::parse_auth_registries(content, entry_delimiter, field_delimiter);
      for (auto& credential : store.all()) credentials.push_back(std::move(credential));
    } catch (const std::invalid_argument& e) {
      // parse_auth_registries' messages name entries by position, host and user, never a password.
      throw std::invalid_argument(fmt::format("line {}: {}", line_number, e.what()));
    }
  }
  return credentials;
}

auth::CredentialStore load_credentials(const Config& config) {
  auto from_env = auth::parse_auth_registries(config.auth_registries, config.auth_registries_delimiter,
                                              config.auth_registry_delimiter);
  if (config.auth_registries_file.empty()) return from_env;
  std::vector<auth::Credential> credentials = from_env.all();
  try {
    auto from_file = parse_auth_registries_file(read_file(config.auth_registries_file),
                                                config.auth_registries_delimiter, config.auth_registry_delimiter);
    for (auto& credential : from_file) credentials.push_back(std::move(credential));
    return auth::CredentialStore(std::move(credentials));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("AUTH_REGISTRIES_FILE {}: {}", config.auth_registries_file.string(), e.what()));
  }
}

auth::RegistryMatcher load_registries(const Config& config, const auth::CredentialStore& credentials) {
  auth::RegistryMatcher registries(config.registries);
  for (const auto& credential : *credentials.snapshot()) registries.add_host(credential.host, credential.port);
  return registries;
}

auth::CidrList load_allowed_clients(const Config& config) {
  auto allowed = auth::CidrList::parse(config.allowed_clients);
  if (!allowed) throw std::invalid_argument("ALLOWED_CLIENTS: " + allowed.error);
  return std::move(*allowed.value);
}

auth::ConnectPolicy load_connect_policy(const Config& config, const auth::RegistryMatcher& registries) {
  auto policy = auth::ConnectPolicy::parse(config.allowed_connect, registries.ports());
  if (!policy) throw std::invalid_argument("ALLOWED_CONNECT: " + policy.error);
  return std::move(*policy.value);
}

registry::UpstreamFallbacks load_registry_mirrors(const Config& config) {
  auto fallbacks = registry::UpstreamFallbacks::parse(config.registry_mirrors);
  if (!fallbacks) throw std::invalid_argument("REGISTRY_MIRRORS " + fallbacks.error);
  return std::move(*fallbacks.value);
}

FileStamp stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {.exists = true,
          .device = static_cast<std::uint64_t>(st.st_dev),
          .inode = static_cast<std::uint64_t>(st.st_ino),
          .mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          .size = static_cast<std::int64_t>(st.st_size)};
}

LiveSettings::LiveSettings(Config startup, std::function<ConfigResult()> reread, auth::CredentialStore& credentials,
                           auth::RegistryMatcher& registries, AlsoReloaded also)
    : config_(std::move(startup)),
      reread_(std::move(reread)),
      credentials_(credentials),
      registries_(registries),
      also_(also) {
  if (!config_.auth_registries_file.empty()) file_stamp_ = stamp_of(config_.auth_registries_file);
}

bool LiveSettings::reload(std::string_view why, bool reread_config) {
  std::lock_guard lock(mutex_);
  Config config = config_;
  if (reread_config && reread_) {
    auto reread = reread_();
    if (!reread.config) {
      spdlog::error("reload ({}): the configuration does not parse, keeping the previous settings: {}", why,
                    trim(reread.message));
      return false;
    }
    // Only these settings change in a running proxy; the others wait for a restart.
    config.registries = reread.config->registries;
    config.auth_registries = reread.config->auth_registries;
    config.auth_registries_file = reread.config->auth_registries_file;
    config.auth_registries_delimiter = reread.config->auth_registries_delimiter;
    config.auth_registry_delimiter = reread.config->auth_registry_delimiter;
    config.allowed_clients = reread.config->allowed_clients;
    config.allowed_connect = reread.config->allowed_connect;
    config.registry_mirrors = reread.config->registry_mirrors;
    warn_restart_only(why, *reread.config);
  }
  if (!config.auth_registries_file.empty()) file_stamp_ = stamp_of(config.auth_registries_file);
  try {
    // Everything is parsed before anything is swapped in: one bad value keeps all the old settings.
    const auto credentials = load_credentials(config);
    const auto registries = load_registries(config, credentials);
    std::optional<auth::CidrList> clients;
    if (also_.clients) clients = load_allowed_clients(config);
    // Also when only the credentials changed: their hosts are registries, whose ports the default
    // ALLOWED_CONNECT admits.
    std::optional<auth::ConnectPolicy> tunnels;
    if (also_.tunnels) tunnels = load_connect_policy(config, registries);
    std::optional<registry::UpstreamFallbacks> fallbacks;
    if (also_.fallbacks) fallbacks = load_registry_mirrors(config);

    const bool registries_changed = registries.entries() != registries_.entries();
    credentials_.replace(credentials);
    registries_.replace(registries);
    std::vector<std::string> clients_before;
    if (clients) {
      clients_before = also_.clients->allowed_entries();
      also_.clients->replace_allowed(*clients);
    }
    std::vector<std::string> tunnels_before;
    if (tunnels) {
      tunnels_before = also_.tunnels->entries();
      also_.tunnels->replace(*tunnels);
    }
    std::vector<std::string> chains_before;
    if (fallbacks) {
      chains_before = also_.fallbacks->describe();
      also_.fallbacks->replace(*fallbacks);
    }
    config_ = std::move(config);

    spdlog::info("reload ({}): credentials for {}", why, describe(credentials));
    if (registries_changed) spdlog::info("reload ({}): intercepting {}", why, fmt::join(registries.entries(), " "));
    if (clients && clients->entries() != clients_before) {
      spdlog::info("reload ({}): allowed clients {} (were {})", why, describe(clients->entries()),
                   describe(clients_before));
      if (clients->empty()) {
        spdlog::warn("reload ({}): ALLOWED_CLIENTS is empty: every new client will be refused", why);
      }
    }
    if (tunnels && tunnels->entries() != tunnels_before) {
      spdlog::info("reload ({}): tunnels allowed to {} (were {})", why, describe(tunnels->entries()),
                   describe(tunnels_before));
    }
    if (fallbacks && fallbacks->describe() != chains_before) {
      const auto chains = fallbacks->describe();
      spdlog::info("reload ({}): REGISTRY_MIRRORS {}", why, chains.empty() ? "none" : fmt::format("{}", fmt::join(chains, "; ")));
    }
    return true;
  } catch (const std::exception& e) {
    spdlog::error("reload ({}): keeping the previous settings (credentials, registries, mirrors, allowed "
                  "clients and tunnels): {}",
                  why, e.what());
    return false;
  }
}

void LiveSettings::warn_restart_only(std::string_view why, const Config& reread) const {
  // The counters survive a reload but their limits do not change: lowering one below the
  // connections already held would need a policy for them (drop? wait?), a restart has one.
  if (reread.max_connections != config_.max_connections ||
      reread.max_connections_per_client != config_.max_connections_per_client) {
    spdlog::warn("reload ({}): MAX_CONNECTIONS and MAX_CONNECTIONS_PER_CLIENT change at the next start; "
                 "keeping {} and {}",
                 why, config_.max_connections, config_.max_connections_per_client);
  }
}

void LiveSettings::start(const asio::any_io_executor& executor, std::chrono::milliseconds poll) {
  // Installed now, before the proxy serves: from here on SIGHUP reloads instead of killing.
  signals_.emplace(executor, SIGHUP);
  // A watcher that stopped on an exception would leave SIGHUP or the file silently ignored: say so.
  auto report = [](std::string_view watcher) {
    return [watcher](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("reload: the {} watch stopped: {}", watcher, e.what());
      } catch (...) {
        spdlog::error("reload: the {} watch stopped", watcher);
      }
    };
  };
  asio::co_spawn(executor, watch_signal(), report("SIGHUP"));
  if (!config_.auth_registries_file.empty()) {
    asio::co_spawn(executor, watch_file(poll), report("AUTH_REGISTRIES_FILE"));
  }
}

asio::awaitable<void> LiveSettings::watch_signal() {
  for (;;) {
    auto [ec, number] = co_await signals_->async_wait(nothrow_awaitable);
    if (ec) co_return;  // stopped
    reload("SIGHUP", true);
  }
}

asio::awaitable<void> LiveSettings::watch_file(std::chrono::milliseconds poll) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(poll);
    auto [ec] = co_await timer.async_wait(nothrow_awaitable);
    if (ec) co_return;
    FileStamp now;
    std::filesystem::path path;
    {
      std::lock_guard lock(mutex_);
      path = config_.auth_registries_file;
      if (path.empty()) continue;
      now = stamp_of(path);
      if (now == file_stamp_) continue;
      file_stamp_ = now;
    }
    if (!now.exists) {
      spdlog::warn("reload: AUTH_REGISTRIES_FILE {} is gone; keeping the previous credentials", path.string());
      continue;
    }
    reload("AUTH_REGISTRIES_FILE changed", false);
  }
}

}  // namespace pt::app
