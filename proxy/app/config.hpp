#pragma once
// Every setting of the proxy, from flags and environment variables (rpardini-compatible names).
// Flags win over the environment; both win over the embedded defaults, so the proxy starts with no
// configuration at all.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pt::app {

struct Config {
  // Network
  std::string listen = "0.0.0.0:3128";
  unsigned threads = 0;  // 0: one per core
  // Optional listeners besides the forward proxy (empty: off).
  std::string mirror_listen;                           // MIRROR_LISTEN: a registry mirror (/v2/ as a registry)
  std::string mirror_tls_cert;                         // MIRROR_TLS_CERT/KEY: serve the mirror over TLS
  std::string mirror_tls_key;
  std::string mirror_upstream = "registry-1.docker.io";  // MIRROR_UPSTREAM: registry when no ?ns= is given
  std::string intercept_listen;                        // INTERCEPT_LISTEN: TLS by SNI, for DNS-hijacked names
  std::string resolvers;                               // RESOLVERS: DNS servers for upstream names, "ip[:port] ..."

  // Cluster: replicas acting as one cache (empty PEERS: one node)
  std::string peers;        // PEERS: "host:port ..." or "dns:NAME:PORT"
  std::string peer_listen;  // PEER_LISTEN: this replica's peer listener, as the others reach it
  std::chrono::milliseconds peers_refresh = std::chrono::seconds(10);        // PEERS_REFRESH
  std::chrono::milliseconds peer_connect_timeout = std::chrono::seconds(2);  // PEER_CONNECT_TIMEOUT

  // BLOB_STORE: an S3 bucket behind the local cache (empty: the local disk only)
  std::string blob_store;      // BLOB_STORE: s3://BUCKET[/PREFIX]
  std::string s3_endpoint;     // S3_ENDPOINT: https://host[:port]; empty: AWS for S3_REGION
  std::string s3_region;       // S3_REGION; empty: us-east-1
  std::string s3_path_style;   // S3_PATH_STYLE; empty: on when S3_ENDPOINT is set
  std::uint64_t s3_max_bytes = 0;     // S3_MAX_SIZE: the bucket's content kept under it (0: no limit)
  std::chrono::milliseconds s3_inactive{0};  // S3_INACTIVE: objects unused this long deleted (0: never)
  std::string aws_access_key_id;      // AWS_ACCESS_KEY_ID
  std::string aws_secret_access_key;  // AWS_SECRET_ACCESS_KEY (a secret: never logged)
  std::string aws_session_token;      // AWS_SESSION_TOKEN (a secret: never logged)

  // Configuration file (JSON or YAML); the environment and flags win over it.
  std::filesystem::path config_file;

  // Access control
  // ALLOWED_CLIENTS: CIDRs that may use the proxy. Default: loopback and private ranges.
  std::string allowed_clients = "127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 fc00::/7";
  std::filesystem::path proxy_auth_file;  // PROXY_AUTH_FILE: htpasswd (bcrypt or {SHA}); empty: no client auth
  std::string allowed_connect;            // ALLOWED_CONNECT: tunnel ports/hosts; empty: 443 and the registries' ports
  std::string cache_auth_mode = "shared";  // CACHE_AUTH_MODE: shared|verify, or per registry "host=verify ..."
  std::string admin_token;                 // ADMIN_TOKEN: bearer token for the admin API from non-loopback clients
  std::string registry_policy;  // REGISTRY_POLICY, raw; parsed by cache::RegistryPolicy

  // Interception
  std::filesystem::path ca_dir = "/ca";
  std::string registries;        // REGISTRIES, raw; parsed by auth::RegistryMatcher
  std::string upstream_resolve;  // UPSTREAM_RESOLVE, raw; parsed by ResolveOverrides
  std::string registry_mirrors;  // REGISTRY_MIRRORS, raw; parsed by registry::UpstreamFallbacks
  std::string upstream_proxy;     // UPSTREAM_PROXY: http://[user:password@]host:port (a secret: never logged)
  std::string upstream_no_proxy;  // UPSTREAM_NO_PROXY: hosts, *.suffix, CIDRs reached directly
  std::string upstream_ca_bundle;
  bool verify_ssl = true;

  // Credentials (rpardini's AUTH_REGISTRIES and its delimiters)
  std::string auth_registries;
  std::filesystem::path auth_registries_file;  // AUTH_REGISTRIES_FILE: more entries, re-read when it changes
  std::string auth_registries_delimiter = " ";
  std::string auth_registry_delimiter = ":";
  bool allow_push = false;
  bool offline = false;  // OFFLINE: serve the cache only, never connect upstream
  std::chrono::milliseconds referrers_cache_time = std::chrono::minutes(5);  // REFERRERS_CACHE_TIME

  // Cache
  std::filesystem::path cache_dir = "/docker_mirror_cache";
  std::uint64_t cache_max_bytes = 32ull << 30;
  std::chrono::milliseconds cache_inactive = std::chrono::hours(24 * 60);
  bool rebuild_index = false;  // --rebuild-index: a new index, blob files re-adopted (see CacheStore)
  // rpardini's manifest cache settings, as text; validated by cache::ManifestCachePolicy.
  std::string enable_manifest_cache = "false";
  std::string manifest_cache_primary_regex = "(stable|nightly|production|test)";
  std::string manifest_cache_primary_time = "10m";
  std::string manifest_cache_secondary_regex = "(.*)(\\d|\\.)+(.*)(\\d|\\.)+(.*)(\\d|\\.)+";
  std::string manifest_cache_secondary_time = "60d";
  std::string manifest_cache_default_time = "1h";

  // Timeouts and limits
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds header_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds client_idle_timeout = std::chrono::seconds(120);
  std::chrono::milliseconds upstream_idle_timeout = std::chrono::seconds(300);
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_connections = 4096;            // MAX_CONNECTIONS, all clients together
  std::size_t max_connections_per_client = 256;  // MAX_CONNECTIONS_PER_CLIENT, per client IP
  unsigned max_certs_per_minute = 600;           // MAX_CERTS_PER_MINUTE: leaf certificates minted

  // Logging
  std::string log_format = "text";
  std::string log_level = "info";
};

// The outcome of reading the command line: either a Config, or text to print and an exit code
// (--help, --version, or a usage error).
struct ConfigResult {
  std::optional<Config> config;
  std::string message;
  int exit_code = 0;
};

// Reads flags and environment variables. Never throws for bad input: a bad value yields a message
// that names the flag and its environment variable, and exit code 2.
ConfigResult parse_command_line(int argc, const char* const* argv);

}  // namespace pt::app
