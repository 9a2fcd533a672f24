#include "proxy/sni_listener.hpp"

#include "auth/registry_matcher.hpp"
#include "ca/leaf_context_cache.hpp"
#include "proxy/access_log.hpp"
#include "proxy/deadline.hpp"
#include "proxy/message_io.hpp"
#include "proxy/mitm_session.hpp"
#include "proxy/read_buffer.hpp"
#include "proxy/server.hpp"
#include "proxy/services.hpp"
#include "proxy/sni_client_hello.hpp"
#include "proxy/tls_stream.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>

namespace pt {
namespace {

using asio::ip::tcp;

// A fatal TLS alert record: what a TLS server sends when it will not serve the name asked for.
constexpr std::array<char, 7> alert_unrecognized_name = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112};
constexpr std::array<char, 7> alert_internal_error = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80};

class SniSession {
public:
  SniSession(tcp::socket socket, Services& services, std::uint64_t id)
      : socket_(std::move(socket)), services_(services), id_(id), client_(peer_text(socket_)) {}

  asio::awaitable<void> run() {
    using namespace asio::experimental::awaitable_operators;
    co_await (serve() || deadline_.watchdog());
  }

private:
  asio::awaitable<void> serve() {
    std::error_code ec;
    const auto listener = socket_.local_endpoint(ec);
    if (ec) co_return;
    socket_.set_option(tcp::no_delay(true), ec);

    // The whole ClientHello within the header timeout, as for an HTTP head.
    deadline_.expires_after(services_.config.header_timeout);
    SniPeek peek;
    while ((peek = peek_server_name(buffer_.data())).status == SniStatus::need_more) {
      if (buffer_.size() >= max_client_hello_bytes) break;
      if (auto read_ec = co_await read_more(socket_, buffer_, 4096)) {
        if (!buffer_.empty()) refuse_log("-", fmt::format("client left during the ClientHello: {}", read_ec.message()));
        co_return;
      }
    }
    if (peek.status != SniStatus::found) {
      refuse_log("-", fmt::format("refused: {}", to_string(peek.status)));
      if (peek.status != SniStatus::not_tls) co_await send_alert(alert_unrecognized_name);
      co_return;
    }

    // The upstream is the name the client asked for, on the port it connected to.
    SessionInfo info{.id = id_, .client = client_, .host = peek.server_name, .port = listener.port(),
                     .own_listener = listener};
    if (!services_.registries.intercepts(info.host, info.port)) {
      refuse_log(info.authority(), "refused: not a registry this proxy intercepts (REGISTRIES)");
      co_await send_alert(alert_unrecognized_name);
      co_return;
    }
    std::shared_ptr<asio::ssl::context> context;
    try {
      context = co_await services_.leaves.context_for(info.host);
    } catch (const std::exception& e) {
      spdlog::error("session {}: cannot mint a certificate for {}: {}", id_, info.host, e.what());
    }
    if (!context) {
      refuse_log(info.authority(), "certificate minting failed");
      co_await send_alert(alert_internal_error);
      co_return;
    }

    // The ClientHello we read for its SNI is the start of the handshake.
    std::string early(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.release();
    TlsStream tls(std::move(socket_), context->native_handle(), TlsStream::Role::server, std::move(early));
    deadline_.expires_after(services_.config.header_timeout);
    auto [handshake_ec] = co_await tls.async_handshake(nothrow_awaitable);
    if (handshake_ec) {
      refuse_log(info.authority(), fmt::format("client TLS handshake failed: {} (does the client trust /ca.crt?)",
                                               handshake_ec.message()));
      co_return;
    }
    MitmSession session(tls, services_, deadline_, std::move(info));
    co_await session.run();
  }

  void refuse_log(std::string host, std::string error) {
    log_access({.session = id_, .client = client_, .host = std::move(host), .method = "TLS", .path = "-",
                .status = 0, .cache = "LOCAL", .error = std::move(error)});
  }

  asio::awaitable<void> send_alert(const std::array<char, 7>& alert) {
    deadline_.expires_after(std::chrono::seconds(5));
    co_await write_all(socket_, std::string_view(alert.data(), alert.size()));
  }

  tcp::socket socket_;
  Services& services_;
  std::uint64_t id_;
  std::string client_;
  Deadline deadline_;
  ReadBuffer buffer_;
};

}  // namespace

asio::awaitable<void> serve_sni_client(tcp::socket socket, Services& services, std::uint64_t session_id) {
  auto ticket = co_await admit_connection(socket, services, session_id, false);
  if (!ticket) co_return;
  SniSession session(std::move(socket), services, session_id);
  co_await session.run();
}

}  // namespace pt
