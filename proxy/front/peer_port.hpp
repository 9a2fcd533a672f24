#pragma once
// The peer listener (PEER_LISTEN): the other replicas of the cluster forward here the requests
// this replica owns. TLS both ways: only a client presenting a peer certificate minted from the
// shared root gets past the handshake (ca/peer_certificate.hpp), so clients, which trust the root
// but cannot mint, get nothing here, cached content least of all. Each request names its registry
// in Host and is served as on a single node: never forwarded again, so no loop can form.
#include "proxy/front/dependencies.hpp"
#include "proxy/registry/mirror_context.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <cstdint>
#include <memory>

namespace pt::front {

class PeerListener {
public:
  // `tls`: the peer link's server context (make_peer_server_context).
  PeerListener(Dependencies& deps, std::shared_ptr<asio::ssl::context> tls);

  // Serves one accepted connection; one coroutine per connection, like serve_client.
  asio::awaitable<void> serve(asio::ip::tcp::socket socket, std::uint64_t session_id);

private:
  Dependencies& deps_;
  std::shared_ptr<asio::ssl::context> tls_;
  // The Bearer tokens fetched for requests forwarded from another replica's mirror port.
  registry::MirrorContext context_;
};

}  // namespace pt::front
