#include "proxy/app/config.hpp"
#include "proxy/app/config_file.hpp"

#include "common/units.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <deque>
#include <tuple>
#include <functional>
#include <thread>

namespace pt::app {
namespace {

// Durations and sizes are read as text and converted afterwards so the error can name the setting.
struct Deferred {
  std::string flag;
  std::string env;
  std::string text;
  std::function<void(const std::string&)> apply;
};

class Binder {
public:
  Binder(CLI::App& app, std::deque<Deferred>& deferred) : app_(app), deferred_(deferred) {}

  template <class T>
  void value(const std::string& flag, const std::string& env, T& target, const std::string& help) {
    app_.add_option(flag, target, help)->envname(env)->capture_default_str()->group(group_);
  }

  void boolean(const std::string& flag, const std::string& env, bool& target, const std::string& help) {
    app_.add_option(flag, target, help)
        ->envname(env)
        ->default_str(target ? "true" : "false")
        ->type_name("BOOL")
        ->group(group_);
  }

  // A switch: "--flag" alone, or the variable set to true/false.
  void flag(const std::string& flag, const std::string& env, bool& target, const std::string& help) {
    app_.add_flag(flag, target, help)->envname(env)->group(group_);
  }

  void duration(const std::string& flag, const std::string& env, std::chrono::milliseconds& target,
                const std::string& help, const std::string& default_text) {
    auto& d = deferred_.emplace_back(Deferred{flag, env, "", {}});
    d.apply = [&target](const std::string& text) { target = parse_duration(text); };
    app_.add_option(flag, d.text, help)->envname(env)->default_str(default_text)->type_name("DURATION")->group(group_);
  }

  void size(const std::string& flag, const std::string& env, std::uint64_t& target, const std::string& help,
            const std::string& default_text) {
    auto& d = deferred_.emplace_back(Deferred{flag, env, "", {}});
    d.apply = [&target](const std::string& text) { target = parse_size(text); };
    app_.add_option(flag, d.text, help)->envname(env)->default_str(default_text)->type_name("SIZE")->group(group_);
  }

  void group(std::string name) { group_ = std::move(name); }

private:
  CLI::App& app_;
  std::deque<Deferred>& deferred_;
  std::string group_ = "Options";
};

void bind(Binder& b, Config& c) {
  b.group("Network");
  b.value("--listen", "LISTEN", c.listen, "Address and port of the proxy listener");
  b.value("--threads", "THREADS", c.threads, "I/O threads (0: one per core)");
  b.value("--mirror-listen", "MIRROR_LISTEN", c.mirror_listen,
          "Also serve as a registry mirror (containerd hosts.toml, docker registry-mirrors) on this address");
  b.value("--mirror-tls-cert", "MIRROR_TLS_CERT", c.mirror_tls_cert, "PEM certificate for a TLS mirror listener");
  b.value("--mirror-tls-key", "MIRROR_TLS_KEY", c.mirror_tls_key, "PEM key for a TLS mirror listener");
  b.value("--mirror-upstream", "MIRROR_UPSTREAM", c.mirror_upstream,
          "Registry the mirror fetches from when the client names none (containerd's ?ns=)");
  b.value("--intercept-listen", "INTERCEPT_LISTEN", c.intercept_listen,
          "Also accept TLS for the listed registries by SNI on this address (DNS-hijack set-ups)");
  b.value("--resolvers", "RESOLVERS", c.resolvers,
          "DNS servers for upstream names, 'ip[:port] ...' (default: the system resolver)");
  b.value("--config", "CONFIG_FILE", c.config_file,
          "JSON or YAML file with these settings (keys: the variable names); the environment wins");

  b.group("Cluster");
  b.value("--peers", "PEERS", c.peers,
          "The replicas acting as one cache: their peer addresses 'host:port ...', or 'dns:NAME:PORT' "
          "(a name re-resolved every PEERS_REFRESH, e.g. a headless Service)");
  b.value("--peer-listen", "PEER_LISTEN", c.peer_listen,
          "This replica's peer listener 'ip:port', the address the others reach it at (it must be in PEERS)");
  b.duration("--peers-refresh", "PEERS_REFRESH", c.peers_refresh,
             "How often dns: PEERS are resolved again, and how long a failed peer is skipped", "10s");
  b.duration("--peer-connect-timeout", "PEER_CONNECT_TIMEOUT", c.peer_connect_timeout,
             "Connect + TLS handshake to a peer; slower peers are skipped", "2s");

  b.group("Blob store");
  b.value("--blob-store", "BLOB_STORE", c.blob_store,
          "s3://BUCKET[/PREFIX]: blobs and manifests by digest shared through an S3 bucket, the local cache "
          "in front of it (empty: the local disk only)");
  b.value("--s3-endpoint", "S3_ENDPOINT", c.s3_endpoint, "https://host[:port] (or http://) of an S3-compatible store (empty: AWS)");
  b.value("--s3-region", "S3_REGION", c.s3_region, "The bucket's region (default us-east-1)");
  b.value("--s3-path-style", "S3_PATH_STYLE", c.s3_path_style,
          "Bucket in the path rather than the host name (default: on when S3_ENDPOINT is set)");
  b.size("--s3-max-size", "S3_MAX_SIZE", c.s3_max_bytes,
         "Keep the bucket's content under this size, least recently used deleted first (0: no limit)", "0");
  b.duration("--s3-inactive", "S3_INACTIVE", c.s3_inactive,
             "Delete bucket objects not used for this long, e.g. 30d (0: never)", "0");
  b.value("--aws-access-key-id", "AWS_ACCESS_KEY_ID", c.aws_access_key_id, "The bucket's access key ID");
  b.value("--aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", c.aws_secret_access_key,
          "The bucket's secret key (never logged)");
  b.value("--aws-session-token", "AWS_SESSION_TOKEN", c.aws_session_token,
          "A temporary session token with the key (never logged)");

  b.group("Access control");
  b.value("--allowed-clients", "ALLOWED_CLIENTS", c.allowed_clients,
          "Client addresses (CIDRs, space or comma separated) allowed to use the proxy");
  b.value("--proxy-auth-file", "PROXY_AUTH_FILE", c.proxy_auth_file,
          "htpasswd file (bcrypt or {SHA}); when set, clients must send Proxy-Authorization");
  b.value("--allowed-connect", "ALLOWED_CONNECT", c.allowed_connect,
          "What blind tunnels may reach: ports and host:port, space separated "
          "(default: 443 and the intercepted registries' ports)");
  b.value("--cache-auth-mode", "CACHE_AUTH_MODE", c.cache_auth_mode,
          "shared (cached content is served to every allowed client) or verify (the registry must accept "
          "the client's own credentials first); per registry: 'shared ghcr.io=verify'");
  b.value("--admin-token", "ADMIN_TOKEN", c.admin_token,
          "Bearer token for the admin API from other than loopback (never logged)");
  b.value("--registry-policy", "REGISTRY_POLICY", c.registry_policy,
          "Per registry or repository pattern: tag freshness, share of the cache, allowed and denied repositories: "
          "'docker.io tag_freshness=10m max_share=50% deny=library/evil* ; ghcr.io allow=myorg/*'");

  b.group("Interception");
  b.value("--ca-dir", "CA_DIR", c.ca_dir, "Directory of the root CA (ca.crt, ca.key); created on first start");
  b.value("--registries", "REGISTRIES", c.registries,
          "Registries to intercept and cache, space separated: 'host' (any port) or 'host:port'. "
          "Docker Hub's hosts are always included");
  b.value("--upstream-resolve", "UPSTREAM_RESOLVE", c.upstream_resolve,
          "Static name overrides for upstream connections: 'name=addr *.suffix=addr'");
  b.value("--registry-mirrors", "REGISTRY_MIRRORS", c.registry_mirrors,
          "Upstreams tried in turn for a registry's pulls, a mirror first: "
          "'docker.io=mirror.gcr.io,registry-1.docker.io quay.io=harbor.corp/quay-proxy,quay.io'");
  b.value("--upstream-proxy", "UPSTREAM_PROXY", c.upstream_proxy,
          "Corporate HTTP proxy for every upstream connection, 'http://[user:password@]host:port' "
          "(CONNECT; the password is never logged)");
  b.value("--upstream-no-proxy", "UPSTREAM_NO_PROXY", c.upstream_no_proxy,
          "Reached directly despite UPSTREAM_PROXY: 'host *.suffix 10.0.0.0/8 ...'");
  b.value("--upstream-ca-bundle", "UPSTREAM_CA_BUNDLE", c.upstream_ca_bundle,
          "Extra PEM bundle trusted for upstream TLS, besides the system store");
  b.boolean("--verify-ssl", "VERIFY_SSL", c.verify_ssl, "Verify upstream TLS certificates");

  b.group("Credentials");
  b.value("--auth-registries", "AUTH_REGISTRIES", c.auth_registries,
          "Credentials injected per registry: 'host:user:password ...' (never logged)");
  b.value("--auth-registries-file", "AUTH_REGISTRIES_FILE", c.auth_registries_file,
          "File of AUTH_REGISTRIES entries ('#' comment lines), re-read when it changes and on SIGHUP");
  b.value("--auth-registries-delimiter", "AUTH_REGISTRIES_DELIMITER", c.auth_registries_delimiter,
          "Separator between AUTH_REGISTRIES entries");
  b.value("--auth-registry-delimiter", "AUTH_REGISTRY_DELIMITER", c.auth_registry_delimiter,
          "Separator between the fields of one AUTH_REGISTRIES entry");
  b.boolean("--allow-push", "ALLOW_PUSH", c.allow_push, "Pass push requests (POST/PUT/PATCH/DELETE) upstream");
  b.boolean("--offline", "OFFLINE", c.offline,
            "Serve from the cache only: no upstream connection at all, tags served whatever their age "
            "(air-gapped sites)");

  b.group("Cache");
  b.value("--cache-dir", "CACHE_DIR", c.cache_dir, "Cache directory (blob files and index)");
  b.size("--cache-max-size", "CACHE_MAX_SIZE", c.cache_max_bytes, "Cache size cap (k/m/g/t)", "32g");
  b.duration("--cache-inactive", "CACHE_INACTIVE", c.cache_inactive, "Evict entries not read for this long", "60d");
  b.duration("--referrers-cache-time", "REFERRERS_CACHE_TIME", c.referrers_cache_time,
             "How long an OCI referrers list (signatures, SBOMs) is served before it is fetched again", "5m");
  b.flag("--rebuild-index", "REBUILD_INDEX", c.rebuild_index,
         "Start with a new cache index (after corruption); blob files on disk are verified and kept");
  b.value("--enable-manifest-cache", "ENABLE_MANIFEST_CACHE", c.enable_manifest_cache,
          "Per-tag freshness windows for tag manifests (rpardini's MANIFEST_CACHE_* settings); "
          "otherwise tags are fresh for 60 s");
  b.value("--manifest-cache-primary-regex", "MANIFEST_CACHE_PRIMARY_REGEX", c.manifest_cache_primary_regex,
          "Tags matching this get the primary window");
  b.value("--manifest-cache-primary-time", "MANIFEST_CACHE_PRIMARY_TIME", c.manifest_cache_primary_time,
          "Primary window");
  b.value("--manifest-cache-secondary-regex", "MANIFEST_CACHE_SECONDARY_REGEX", c.manifest_cache_secondary_regex,
          "Tags matching this get the secondary window");
  b.value("--manifest-cache-secondary-time", "MANIFEST_CACHE_SECONDARY_TIME", c.manifest_cache_secondary_time,
          "Secondary window");
  b.value("--manifest-cache-default-time", "MANIFEST_CACHE_DEFAULT_TIME", c.manifest_cache_default_time,
          "Window for other tags");

  b.group("Timeouts and limits");
  b.duration("--connect-timeout", "CONNECT_TIMEOUT", c.connect_timeout, "Upstream connect + TLS handshake", "10s");
  b.duration("--header-timeout", "HEADER_TIMEOUT", c.header_timeout, "Time to receive a request head", "30s");
  b.duration("--client-idle-timeout", "CLIENT_IDLE_TIMEOUT", c.client_idle_timeout,
             "Idle client connection (no bytes either way)", "120s");
  b.duration("--upstream-idle-timeout", "UPSTREAM_IDLE_TIMEOUT", c.upstream_idle_timeout,
             "Upstream silent for this long mid-response", "300s");
  b.duration("--shutdown-grace", "SHUTDOWN_GRACE", c.shutdown_grace,
             "On SIGTERM, how long in-flight transfers may finish", "30s");
  b.value("--max-header-size", "MAX_HEADER_SIZE", c.max_header_bytes, "Largest request or response head, bytes");
  b.value("--max-connections", "MAX_CONNECTIONS", c.max_connections, "Client connections at once, in all");
  b.value("--max-connections-per-client", "MAX_CONNECTIONS_PER_CLIENT", c.max_connections_per_client,
          "Client connections at once from one IP address");
  b.value("--max-certs-per-minute", "MAX_CERTS_PER_MINUTE", c.max_certs_per_minute,
          "Leaf certificates minted per minute at most (new hosts beyond it get 503)");

  b.group("Logging");
  b.value("--log-format", "LOG_FORMAT", c.log_format, "text or json (one object per line)");
  b.value("--log-level", "LOG_LEVEL", c.log_level, "trace, debug, info, warn, error");
}

}  // namespace

ConfigResult parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"pullthrough: a caching MITM proxy for container registries.\n"
               "Clients set HTTPS_PROXY=http://<this host>:3128 and trust http://<this host>:3128/ca.crt.",
               "pullthrough"};
  app.set_version_flag("--version", "pullthrough 0.1.0");
  app.get_formatter()->column_width(40);
  Config config;
  std::deque<Deferred> deferred;  // a deque: Binder hands out references into it
  Binder binder(app, deferred);
  bind(binder, config);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, app.help(), 0};
  } catch (const CLI::CallForVersion&) {
    return {std::nullopt, "pullthrough 0.1.0\n", 0};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, fmt::format("pullthrough: {}\nRun with --help for the settings.\n", e.what()), 2};
  }

  // The configuration file fills what neither a flag nor the environment set.
  std::vector<FileSetting> from_file;
  if (!config.config_file.empty()) {
    auto applied = apply_config_file(app, config.config_file);
    if (!applied.error.empty()) return {std::nullopt, fmt::format("pullthrough: {}\n", applied.error), 2};
    from_file = std::move(applied.settings);
  }

  // CLI11 ignores empty environment variables, but rpardini's users disable a manifest cache tier
  // with an empty regex.
  for (auto [flag, env, target] : {std::tuple{"--manifest-cache-primary-regex", "MANIFEST_CACHE_PRIMARY_REGEX",
                                              &config.manifest_cache_primary_regex},
                                   std::tuple{"--manifest-cache-secondary-regex", "MANIFEST_CACHE_SECONDARY_REGEX",
                                              &config.manifest_cache_secondary_regex}}) {
    const char* value = std::getenv(env);
    if (value && *value == '\0' && app.count(flag) == 0) target->clear();
  }

  for (auto& d : deferred) {
    if (d.text.empty()) continue;
    try {
      d.apply(d.text);
    } catch (const std::exception& e) {
      for (const auto& s : from_file) {
        if (s.name == d.env) {
          return {std::nullopt, fmt::format("pullthrough: config file {}: key '{}': {}\n", config.config_file.string(),
                                            s.key, e.what()), 2};
        }
      }
      return {std::nullopt, fmt::format("pullthrough: {} ({}): {}\n", d.flag, d.env, e.what()), 2};
    }
  }
  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  if (config.max_header_bytes < 1024) {
    return {std::nullopt, "pullthrough: --max-header-size (MAX_HEADER_SIZE) must be at least 1024\n", 2};
  }
  return {std::move(config), "", 0};
}

}  // namespace pt::app
