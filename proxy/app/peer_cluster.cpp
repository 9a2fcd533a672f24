#include "proxy/app/peer_cluster.hpp"

#include "ca/peer_certificate.hpp"
#include "ca/root_ca.hpp"
#include "cluster/peers_setting.hpp"
#include "common/host_port.hpp"
#include "proxy/net/upstream_connection.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace pt::app {

std::unique_ptr<PeerCluster> PeerCluster::create(const Config& config, const ca::RootCa& root,
                                                 const net::DnsResolver* dns) {
  const auto peers = cluster::parse_peers(config.peers);
  if (peers.empty()) {
    if (!config.peer_listen.empty()) spdlog::warn("PEER_LISTEN is set without PEERS: no cluster, one node");
    return nullptr;
  }
  if (config.peer_listen.empty()) {
    throw std::invalid_argument("PEERS is set but PEER_LISTEN is not: each replica needs its peer listener, at the "
                                "address the others reach it at (e.g. PEER_LISTEN=$(POD_IP):3129)");
  }
  const auto self = cluster::canonical_member(config.peer_listen, "PEER_LISTEN");
  const auto listen = parse_authority(config.peer_listen, PortRule::required);
  if (!canonical_ip_literal(listen->host)) {
    // The listener binds it, and a replica knows itself in a dns: list by its address.
    throw std::invalid_argument(fmt::format("PEER_LISTEN: '{}' must be an IP address and port", config.peer_listen));
  }
  // Peers prove themselves by a certificate only the holders of the root key can mint: every
  // replica mints its own at start, nothing is written to CA_DIR (it may be a read-only Secret).
  const auto certificate = ca::mint_peer_certificate(root, ca::CertHost::parse_or_throw(listen->host));
  auto cluster = std::unique_ptr<PeerCluster>(new PeerCluster(
      config, self, peers.members, ca::make_peer_server_context(root, certificate),
      ca::make_peer_client_context(root, certificate), dns));
  if (peers.dns) {
    cluster->dns_name_ = {peers.dns->name, peers.dns->port};
    spdlog::info("cluster: this replica is {}; members are the addresses of {} on port {}, resolved every {} ms", self,
                 peers.dns->name, peers.dns->port, config.peers_refresh.count());
  } else {
    spdlog::info("cluster: this replica is {}; members {}", self, fmt::join(peers.members, " "));
    if (std::find(peers.members.begin(), peers.members.end(), self) == peers.members.end()) {
      spdlog::warn("cluster: PEER_LISTEN {} is not in PEERS: this replica forwards to the members but owns nothing",
                   self);
    }
  }
  return cluster;
}

PeerCluster::PeerCluster(const Config& config, std::string self, std::vector<std::string> members,
                         std::shared_ptr<asio::ssl::context> server_tls, std::shared_ptr<asio::ssl::context> client_tls,
                         const net::DnsResolver* dns)
    : refresh_interval_(config.peers_refresh),
      connect_timeout_(config.peer_connect_timeout),
      // A failed member is skipped until a probe reaches it again (every PEERS_REFRESH), so a dead
      // replica costs requests nothing after the first failure and a returning one owns its share
      // within one interval. The time limit is a safety net should probes stop: longer than two
      // rounds, so a dead member never comes back between two probes.
      members_(std::move(self), std::move(members), 2 * config.peers_refresh + config.peer_connect_timeout),
      server_tls_(std::move(server_tls)),
      client_tls_(std::move(client_tls)),
      // Peer names go through RESOLVERS when set, never through UPSTREAM_PROXY: the peer link
      // stays inside the cluster.
      resolve_("", dns, nullptr),
      sessions_{.members = members_, .tls = client_tls_, .resolve = resolve_, .pool = pool_,
                .connect_timeout = config.peer_connect_timeout} {}

void PeerCluster::start(asio::any_io_executor executor) {
  asio::co_spawn(executor, refresh_loop(), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("cluster: the refresh of PEERS and the probes of failed members stopped: {}", e.what());
    }
  });
}

asio::awaitable<void> PeerCluster::refresh_loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    if (dns_name_) co_await refresh();
    co_await probe_down_members();
    timer.expires_after(refresh_interval_);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> PeerCluster::probe_down_members() {
  for (const auto& member : members_.down()) {
    const auto address = parse_authority(member, PortRule::required);
    if (!address) continue;
    // The same connection a forwarded request would open: TCP, and mutual TLS with our peer
    // certificate, so "up" means "would serve".
    net::UpstreamConnection connection(client_tls_, resolve_);
    const auto failure = co_await net::open_within(connection, address->host, *address->port, connect_timeout_,
                                                   "PEER_CONNECT_TIMEOUT");
    connection.close();
    if (failure) {
      members_.mark_down(member);  // still away: skipped for another round
    } else {
      members_.mark_up(member);
      spdlog::info("cluster: peer {} answers again; it owns its share", member);
    }
  }
}

asio::awaitable<void> PeerCluster::refresh() {
  const auto& [name, port] = *dns_name_;
  const auto resolved = co_await net::resolve_upstream(name, port, resolve_);
  if (resolved.endpoints.empty()) {
    // Keep the members we had: a DNS hiccup must not turn the cluster into N separate caches.
    spdlog::warn("cluster: cannot resolve {} ({}); keeping the {} members known", name, resolved.error,
                 members_.size());
    co_return;
  }
  std::vector<std::string> members;
  for (const auto& endpoint : resolved.endpoints) {
    members.push_back(format_authority(endpoint.address().to_string(), endpoint.port()));
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members_.set(members)) {
    spdlog::info("cluster: members now {}{}", fmt::join(members, " "),
                 members_.self_is_member() ? "" : " (this replica is not among them: it owns nothing)");
  }
}

}  // namespace pt::app
