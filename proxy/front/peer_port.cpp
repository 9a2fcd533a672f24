#include "proxy/front/peer_port.hpp"

#include "common/deadline.hpp"
#include "proxy/front/intercept.hpp"
#include "proxy/net/peer_text.hpp"

#include <asio/experimental/awaitable_operators.hpp>

namespace pt::front {

using asio::ip::tcp;

PeerListener::PeerListener(Dependencies& deps, std::shared_ptr<asio::ssl::context> tls)
    : deps_(deps), tls_(std::move(tls)), context_{.default_registry = {}} {}

asio::awaitable<void> PeerListener::serve(tcp::socket socket, std::uint64_t session_id) {
  using namespace asio::experimental::awaitable_operators;
  // No ALLOWED_CLIENTS or connection admission: a peer proves itself by its certificate, and
  // holding it back would fail the clients it forwards for.
  Deadline deadline;
  registry::SessionInfo info{.id = session_id, .client = net::peer_text(socket), .host = "peer", .from_peer = true};
  std::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const HandshakeLog log{.host = "peer", .method = "TLS",
                         .hint = "only replicas of this cluster, with peer certificates of the same root CA, are served"};
  co_await (serve_tls_session(std::move(socket), *tls_, {}, deps_, deadline, std::move(info), log, &context_) ||
            deadline.watchdog());
}

}  // namespace pt::front
