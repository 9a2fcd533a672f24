#include "proxy/app.hpp"

#include "auth/auth_registries.hpp"
#include "auth/registry_matcher.hpp"
#include "ca/leaf_context_cache.hpp"
#include "ca/root_ca.hpp"
#include "proxy/resolve_overrides.hpp"
#include "proxy/server.hpp"
#include "proxy/services.hpp"
#include "proxy/upstream_tls.hpp"

#include <asio/thread_pool.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace pt {

int run_proxy(const Config& config) {
  auth::RegistryMatcher registries(config.registries);
  const auto credentials = auth::parse_auth_registries(config.auth_registries, config.auth_registries_delimiter,
                                                       config.auth_registry_delimiter);
  ResolveOverrides resolve(config.upstream_resolve);
  UpstreamTls upstream_tls(config.verify_ssl, config.upstream_ca_bundle);

  const auto root_ca = ca::RootCa::load_or_create(config.ca_dir);
  spdlog::info("root CA {} ({}): {}", root_ca.created() ? "created" : "loaded", config.ca_dir.string(),
               root_ca.subject());
  asio::thread_pool blocking(2);
  ca::LeafContextCache leaves(root_ca, blocking);

  Services services{
      .config = config,
      .root_ca = root_ca,
      .leaves = leaves,
      .upstream_tls = upstream_tls,
      .resolve = resolve,
      .registries = registries,
      .credentials = credentials,
      .blocking = blocking,
  };
  Server server(services, config.threads);
  server.listen(config.listen);
  spdlog::info("intercepting {}", fmt::join(registries.entries(), " "));
  for (const auto& credential : credentials.all()) spdlog::info("credentials for {}", credential.describe());
  const int code = server.run();
  blocking.join();
  return code;
}

}  // namespace pt
