#pragma once
// PEERS at run time, built at start-up: this replica's peer certificate and the peer link's TLS
// both ways, the member table every session consults, and for dns:NAME:PORT the refresh that keeps
// the members those of the name (a StatefulSet's headless Service) every PEERS_REFRESH.
#include "cluster/members.hpp"
#include "proxy/app/config.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"
#include "proxy/registry/dependencies.hpp"
#include "proxy/registry/peer_pool.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>

#include <memory>
#include <optional>
#include <string>

namespace pt {
namespace ca {
class RootCa;
}  // namespace ca
namespace net {
class DnsResolver;
}  // namespace net
}  // namespace pt

namespace pt::app {

class PeerCluster {
public:
  // Null when PEERS is empty (one node). Throws std::invalid_argument (fatal at start-up) for a bad
  // PEERS or PEER_LISTEN, naming the setting. `dns`: RESOLVERS (null: the system resolver).
  static std::unique_ptr<PeerCluster> create(const Config& config, const ca::RootCa& root, const net::DnsResolver* dns);

  registry::Cluster& sessions() { return sessions_; }
  const cluster::Members& members() const { return members_; }
  std::shared_ptr<asio::ssl::context> server_context() const { return server_tls_; }

  // Every PEERS_REFRESH, on `executor`, until it stops: resolves a dns: PEERS name again, and
  // probes the members skipped after a failure.
  void start(asio::any_io_executor executor);
  // Closes the kept-alive peer connections: once the listeners stopped, before their threads go.
  void stop() { pool_.clear(); }

private:
  PeerCluster(const Config& config, std::string self, std::vector<std::string> members,
              std::shared_ptr<asio::ssl::context> server_tls, std::shared_ptr<asio::ssl::context> client_tls,
              const net::DnsResolver* dns);
  asio::awaitable<void> refresh_loop();
  asio::awaitable<void> refresh();
  // Members skipped after a failure are tried again (connect and mutual TLS); those that answer
  // are up again.
  asio::awaitable<void> probe_down_members();

  std::optional<std::pair<std::string, std::uint16_t>> dns_name_;
  std::chrono::milliseconds refresh_interval_;
  std::chrono::milliseconds connect_timeout_;
  cluster::Members members_;
  std::shared_ptr<asio::ssl::context> server_tls_;
  net::UpstreamTls client_tls_;
  net::ResolveOverrides resolve_;
  registry::PeerPool pool_;
  registry::Cluster sessions_;
};

}  // namespace pt::app
