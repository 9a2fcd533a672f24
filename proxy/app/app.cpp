#include "proxy/app/app.hpp"
#include "proxy/app/live_settings.hpp"

#include "auth/access_verdicts.hpp"
#include "auth/cache_auth_mode.hpp"
#include "auth/cidr_list.hpp"
#include "auth/connect_policy.hpp"
#include "auth/proxy_authenticator.hpp"
#include "auth/registry_matcher.hpp"
#include "ca/leaf_context_cache.hpp"
#include "ca/root_ca.hpp"
#include "cache/cache_store.hpp"
#include "cache/manifest_cache_policy.hpp"
#include "cache/registry_policy.hpp"
#include "common/units.hpp"
#include "proxy/front/connection_limits.hpp"
#include "proxy/front/mirror_port.hpp"
#include "proxy/front/peer_port.hpp"
#include "proxy/app/object_store_setup.hpp"
#include "proxy/app/peer_cluster.hpp"
#include "proxy/front/proxy_port.hpp"
#include "proxy/front/server.hpp"
#include "proxy/front/sni_port.hpp"
#include "proxy/net/dns_resolver.hpp"
#include "proxy/net/egress.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"
#include "proxy/ops/access_log.hpp"
#include "proxy/ops/local_endpoints.hpp"
#include "proxy/ops/metrics.hpp"
#include "proxy/registry/mirror_tokens.hpp"
#include "proxy/registry/revalidations.hpp"
#include "proxy/registry/upstream_fallbacks.hpp"
#include "proxy/registry/upstream_health.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace pt::app {
namespace {

// REGISTRY_POLICY, said in the log as it will be used.
cache::RegistryPolicy registry_policy(const Config& c) {
  auto policy = cache::RegistryPolicy::parse(c.registry_policy);
  if (!policy) throw std::invalid_argument("REGISTRY_POLICY: " + policy.error);
  for (const auto& line : policy->describe()) spdlog::info("registry policy: {}", line);
  return std::move(*policy.value);
}

cache::ManifestCachePolicy manifest_policy(const Config& c, const cache::RegistryPolicy& per_registry) {
  cache::ManifestCacheSettings settings;
  settings.enable = c.enable_manifest_cache;
  settings.primary_regex = c.manifest_cache_primary_regex;
  settings.primary_time = c.manifest_cache_primary_time;
  settings.secondary_regex = c.manifest_cache_secondary_regex;
  settings.secondary_time = c.manifest_cache_secondary_time;
  settings.default_time = c.manifest_cache_default_time;
  return cache::ManifestCachePolicy(settings, per_registry);
}

std::unique_ptr<cache::CacheStore> open_cache(const Config& c, const cache::RegistryPolicy& per_registry) {
  cache::CacheSettings settings;
  settings.directory = c.cache_dir;
  settings.max_bytes = c.cache_max_bytes;
  settings.max_inactive = std::chrono::duration_cast<std::chrono::seconds>(c.cache_inactive);
  settings.rebuild_index = c.rebuild_index;
  settings.registry_shares = per_registry.shares();
  auto store = cache::CacheStore::open(settings);
  spdlog::info("cache {}: {} in {} file(s), cap {}", c.cache_dir.string(),
               format_size(store->index().total_bytes()), store->index().file_count(), format_size(c.cache_max_bytes));
  return store;
}

// Start-up repair, then inactivity eviction every hour, on the blocking pool: never on the I/O
// threads and never delaying start-up. Ends when the pool is stopped.
asio::awaitable<void> maintain(cache::CacheStore& store) {
  try {
    const auto repaired = store.reconcile();
    spdlog::info("cache check: {} unindexed and {} missing file(s) cleaned", repaired.unindexed_files,
                 repaired.missing_files);
  } catch (const std::exception& e) {
    spdlog::error("cache check failed: {}", e.what());
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    try {
      const auto evicted = store.evict_inactive(cache::now_timestamp());
      if (evicted.files > 0) {
        spdlog::info("evicted {} file(s) ({}) not read for {:.1f} day(s)", evicted.files,
                     format_size(evicted.bytes), store.settings().max_inactive.count() / 86400.0);
      }
    } catch (const std::exception& e) {
      spdlog::error("inactive eviction failed: {}", e.what());
    }
    timer.expires_after(std::chrono::hours(1));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

front::ConnectionLimits connection_limits(const Config& c) {
  auto allowed = load_allowed_clients(c);
  if (allowed.empty()) spdlog::warn("ALLOWED_CLIENTS is empty: every client will be refused");
  spdlog::info("clients allowed from {}", fmt::join(allowed.entries(), " "));
  return front::ConnectionLimits(std::move(allowed), c.max_connections, c.max_connections_per_client);
}

auth::ConnectPolicy connect_policy(const Config& c, const auth::RegistryMatcher& registries) {
  auto policy = load_connect_policy(c, registries);
  spdlog::info("tunnels allowed to {}", fmt::join(policy.entries(), " "));
  return policy;
}

auth::CacheAuthModes cache_auth_modes(const Config& c) {
  auto modes = auth::CacheAuthModes::parse(c.cache_auth_mode);
  if (!modes) throw std::invalid_argument("CACHE_AUTH_MODE: " + modes.error);
  spdlog::info("cached content served: {}", modes->describe());
  return std::move(*modes.value);
}

std::unique_ptr<auth::ProxyAuthenticator> proxy_authenticator(const Config& c) {
  if (c.proxy_auth_file.empty()) return nullptr;
  auto users = auth::Htpasswd::load(c.proxy_auth_file);
  spdlog::info("client authentication: {} user(s) from {}", users.size(), c.proxy_auth_file.string());
  return std::make_unique<auth::ProxyAuthenticator>(std::move(users));
}

// UPSTREAM_PROXY and UPSTREAM_NO_PROXY; null without a corporate proxy. Errors and the log show
// the proxy's URL with its password masked.
std::unique_ptr<net::Egress> upstream_egress(const Config& c) {
  if (c.upstream_proxy.empty()) {
    if (!c.upstream_no_proxy.empty()) spdlog::warn("UPSTREAM_NO_PROXY is set without UPSTREAM_PROXY: it has no effect");
    return nullptr;
  }
  auto proxy = net::parse_upstream_proxy(c.upstream_proxy);
  if (!proxy) throw std::invalid_argument("UPSTREAM_PROXY " + proxy.error);
  auto direct = net::NoProxyList::parse(c.upstream_no_proxy);
  if (!direct) throw std::invalid_argument("UPSTREAM_NO_PROXY " + direct.error);
  spdlog::info("upstream connections go through the corporate proxy {} (UPSTREAM_PROXY{}), which resolves their "
               "names; direct: {}",
               proxy->display(), proxy->username ? ", with credentials" : "",
               direct->empty() ? "nothing" : fmt::format("{}", fmt::join(direct->entries(), " ")));
  return std::make_unique<net::Egress>(std::move(*proxy.value), std::move(*direct.value));
}

// REGISTRY_MIRRORS, said in the log as it will be used.
registry::UpstreamFallbacks upstream_fallbacks(const Config& c) {
  auto fallbacks = load_registry_mirrors(c);
  for (const auto& line : fallbacks.describe()) spdlog::info("pulls of {} (REGISTRY_MIRRORS)", line);
  return fallbacks;
}

// The ports of this proxy's listeners: a tunnel to one of them on this host would loop.
std::vector<std::uint16_t> own_ports(const Config& c) {
  std::vector<std::uint16_t> ports;
  const std::pair<const std::string*, std::string_view> listeners[] = {
      {&c.listen, "LISTEN"}, {&c.mirror_listen, "MIRROR_LISTEN"}, {&c.intercept_listen, "INTERCEPT_LISTEN"},
      {&c.peer_listen, "PEER_LISTEN"}};
  for (const auto& [listen, setting] : listeners) {
    if (!listen->empty()) ports.push_back(front::parse_listen_address(*listen, setting).port());
  }
  return ports;
}

}  // namespace

int run_proxy(const Config& config, std::function<ConfigResult()> reread) {
  // Both change while the proxy runs (LiveSettings, below): the sessions hold them by reference
  // and each lookup takes the set in force.
  auto credentials = load_credentials(config);
  auto registries = load_registries(config, credentials);
  std::unique_ptr<net::DnsResolver> dns;
  if (!config.resolvers.empty()) {
    dns = std::make_unique<net::DnsResolver>(config.resolvers);
    std::vector<std::string> servers;
    for (const auto& server : dns->servers()) servers.push_back(to_string(server));
    spdlog::info("upstream names resolve through RESOLVERS {} (after UPSTREAM_RESOLVE)", fmt::join(servers, " "));
  }
  const auto egress = upstream_egress(config);
  net::ResolveOverrides resolve(config.upstream_resolve, dns.get(), egress.get());
  net::UpstreamTls upstream_tls(config.verify_ssl, config.upstream_ca_bundle);
  const auto per_registry = registry_policy(config);
  const auto policy = manifest_policy(config, per_registry);
  auto limits = connection_limits(config);
  auto tunnels = connect_policy(config, registries);
  auto proxy_auth = proxy_authenticator(config);
  const auto cache_auth = cache_auth_modes(config);
  auth::AccessVerdicts verdicts;
  auto chains = upstream_fallbacks(config);
  registry::UpstreamHealth upstream_health;
  registry::TokenCache upstream_tokens;
  registry::Revalidations revalidations;
  registry::Fallbacks fallbacks{.chains = chains, .health = upstream_health, .tokens = upstream_tokens};

  const auto root_ca = ca::RootCa::load_or_create(config.ca_dir);
  spdlog::info("root CA {} ({}): {}", root_ca.created() ? "created" : "loaded", config.ca_dir.string(),
               root_ca.subject());
  // PEERS: the replicas acting as one cache (null: one node).
  const auto peers = PeerCluster::create(config, root_ca, dns.get());
  auto store = open_cache(config, per_registry);
  if (config.offline) {
    spdlog::info("OFFLINE=true: no upstream connection at all; the cache answers what it holds (tags whatever "
                 "their age), the rest gets an error saying the proxy is offline");
    if (!store) spdlog::warn("OFFLINE=true without a cache: every request will be refused");
  }
  asio::thread_pool blocking(2);
  // BLOB_STORE: the bucket behind the local cache, checked now (empty: the local disk only).
  auto bucket = set_up_object_store(config, upstream_tls, resolve, store.get(), blocking,
                                    peers ? &peers->members() : nullptr);
  ca::LeafContextCache leaves(root_ca, blocking, 1000, config.max_certs_per_minute);
  asio::co_spawn(blocking, maintain(*store), [](std::exception_ptr error) {
    if (error) spdlog::error("cache maintenance stopped unexpectedly");
  });

  // Each layer is handed what it needs, nothing more: the sessions, the listeners, the endpoints.
  ops::Metrics metrics;
  ops::AccessLog access_log(metrics);
  std::atomic<bool> serving{false};
  registry::Dependencies sessions{
      .settings = {.connect_timeout = config.connect_timeout,
                   .header_timeout = config.header_timeout,
                   .client_idle_timeout = config.client_idle_timeout,
                   .upstream_idle_timeout = config.upstream_idle_timeout,
                   .max_header_bytes = config.max_header_bytes,
                   .allow_push = config.allow_push,
                   .offline = config.offline,
                   .referrers_freshness = config.referrers_cache_time},
      .upstream_tls = upstream_tls,
      .resolve = resolve,
      .registries = registries,
      .credentials = credentials,
      .blocking = blocking,
      .cache = store.get(),
      .manifest_policy = policy,
      .observer = access_log,
      .cache_auth = &cache_auth,
      .verdicts = &verdicts,
      .fallbacks = &fallbacks,
      .revalidations = &revalidations,
      .registry_policy = per_registry.empty() ? nullptr : &per_registry,
      .cluster = peers ? &peers->sessions() : nullptr,
      .object_store = bucket.store.get(),
  };
  ops::Dependencies endpoints_deps{.root_ca = root_ca, .cache = store.get(), .metrics = metrics, .serving = serving,
                                   .blocking = blocking, .admin_token = config.admin_token,
                                   .registry = &sessions,
                                   .members = peers ? &peers->members() : nullptr,
                                   .object_store = bucket.health.get()};
  ops::LocalEndpoints endpoints(endpoints_deps);
  front::Dependencies listeners{
      .settings = {.shutdown_grace = config.shutdown_grace, .own_ports = own_ports(config)},
      .registry = sessions,
      .leaves = leaves,
      .local = endpoints,
      .serving = serving,
      .limits = &limits,
      .proxy_auth = proxy_auth.get(),
      .connect_policy = &tunnels,
  };
  // SIGHUP and AUTH_REGISTRIES_FILE changes reload the credentials, REGISTRIES and the access lists.
  LiveSettings live(config, std::move(reread), credentials, registries, {.clients = &limits, .tunnels = &tunnels, .fallbacks = &chains});
  live.start(blocking.get_executor(), std::chrono::seconds(2));
  front::Server server(listeners, config.threads);
  server.listen(config.listen, "LISTEN", [&listeners](asio::ip::tcp::socket socket, std::uint64_t id) {
    return front::serve_client(std::move(socket), listeners, id);
  });
  std::unique_ptr<front::MirrorListener> mirror;
  if (!config.mirror_listen.empty()) {
    mirror = std::make_unique<front::MirrorListener>(
        listeners, front::MirrorSettings{.upstream = config.mirror_upstream,
                                         .tls_cert = config.mirror_tls_cert,
                                         .tls_key = config.mirror_tls_key});
    server.listen(config.mirror_listen, "MIRROR_LISTEN", [&mirror = *mirror](asio::ip::tcp::socket socket, std::uint64_t id) {
      return mirror.serve(std::move(socket), id);
    });
    spdlog::info("registry mirror ({}): requests without ?ns= go to {}", mirror->uses_tls() ? "https" : "http",
                 mirror->default_registry().authority());
  }
  if (!config.intercept_listen.empty()) {
    server.listen(config.intercept_listen, "INTERCEPT_LISTEN", [&listeners](asio::ip::tcp::socket socket, std::uint64_t id) {
      return front::serve_sni_client(std::move(socket), listeners, id);
    });
    if (config.resolvers.empty()) {
      spdlog::info("INTERCEPT_LISTEN without RESOLVERS: upstream names the system resolver gives as this listener "
                   "are refused (a DNS-hijack loop); set UPSTREAM_RESOLVE or RESOLVERS");
    }
  }
  std::unique_ptr<front::PeerListener> peer_port;
  if (bucket.store) {
    const cache::BucketLimits limits{
        .max_bytes = config.s3_max_bytes,
        .inactive = std::chrono::duration_cast<std::chrono::seconds>(config.s3_inactive)};
    start_bucket_eviction(blocking.get_executor(), *bucket.store, limits, peers ? &peers->members() : nullptr,
                          store.get());
    // What an earlier run (or an outage) left in the outbox goes up now, then every minute.
    bucket.uploads->start_resuming(blocking.get_executor());
  }
  if (peers) {
    peer_port = std::make_unique<front::PeerListener>(listeners, peers->server_context());
    server.listen(config.peer_listen, "PEER_LISTEN", [&peer_port = *peer_port](asio::ip::tcp::socket socket, std::uint64_t id) {
      return peer_port.serve(std::move(socket), id);
    });
    peers->start(blocking.get_executor());
  }
  spdlog::info("intercepting {}", fmt::join(registries.entries(), " "));
  for (const auto& credential : credentials.all()) spdlog::info("credentials for {}", credential.describe());
  const int code = server.run();
  if (peers) peers->stop();
  blocking.stop();  // ends the maintenance loop
  blocking.join();
  return code;
}

}  // namespace pt::app
