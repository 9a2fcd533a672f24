#include "proxy/front/admission.hpp"

#include "proxy/http/local_response.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/peer_text.hpp"

namespace pt::front {
namespace {

using asio::ip::tcp;

// Answers an HTTP client that ConnectionLimits refused (403, 429 or 503), logs it, and shuts the
// socket down.
asio::awaitable<void> refuse_connection(tcp::socket& socket, Dependencies& deps, std::uint64_t session_id,
                                        ConnectionLimits::Verdict verdict) {
  const int status = ConnectionLimits::status_for(verdict);
  const std::string why = ConnectionLimits::describe(verdict);
  deps.registry.observer.request_done({.session = session_id, .client = net::peer_text(socket), .host = "-",
                                       .method = "-", .path = "-", .status = status,
                                       .cache = registry::CacheStatus::local, .error = why});
  http::LocalResponse response;
  response.status = status;
  response.body = "pullthrough: " + why + "\n";
  if (status != 403) response.extra_headers.add("Retry-After", "5");
  // Small enough for the socket buffer: a client that never reads cannot hold us here.
  co_await http::write_all(socket, http::render(response, false, false));
  std::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

asio::awaitable<std::optional<ConnectionLimits::Ticket>> admit_connection(tcp::socket& socket, Dependencies& deps,
                                                                         std::uint64_t session_id, bool http) {
  if (!deps.limits) co_return ConnectionLimits::Ticket{};
  std::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) co_return std::nullopt;
  auto admission = deps.limits->admit(peer.address());
  if (admission.verdict == ConnectionLimits::Verdict::admitted) co_return std::move(admission.ticket);
  if (http) {
    co_await refuse_connection(socket, deps, session_id, admission.verdict);
  } else {
    deps.registry.observer.request_done({.session = session_id, .client = net::peer_text(socket), .host = "-",
                                         .method = "TLS", .path = "-", .cache = registry::CacheStatus::local,
                                         .error = ConnectionLimits::describe(admission.verdict)});
    socket.close(ec);
  }
  co_return std::nullopt;
}

}  // namespace pt::front
