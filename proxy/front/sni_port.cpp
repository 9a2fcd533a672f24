#include "proxy/front/sni_port.hpp"

#include "auth/registry_matcher.hpp"
#include "common/deadline.hpp"
#include "proxy/front/admission.hpp"
#include "proxy/front/intercept.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/http/read_buffer.hpp"
#include "proxy/net/peer_text.hpp"
#include "proxy/net/sni_client_hello.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>

namespace pt::front {
namespace {

using asio::ip::tcp;

// A fatal TLS alert record: what a TLS server sends when it will not serve the name asked for.
constexpr std::array<char, 7> alert_unrecognized_name = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112};
constexpr std::array<char, 7> alert_internal_error = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80};

class SniSession {
public:
  SniSession(tcp::socket socket, Dependencies& deps, std::uint64_t id)
      : socket_(std::move(socket)), deps_(deps), id_(id), client_(net::peer_text(socket_)) {}

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
    deadline_.expires_after(deps_.registry.settings.header_timeout);
    net::SniPeek peek;
    while ((peek = net::peek_server_name(buffer_.data())).status == net::SniStatus::need_more) {
      if (buffer_.size() >= net::max_client_hello_bytes) break;
      if (auto read_ec = co_await http::read_more(socket_, buffer_, 4096)) {
        if (!buffer_.empty()) refuse_log("-", fmt::format("client left during the ClientHello: {}", read_ec.message()));
        co_return;
      }
    }
    if (peek.status != net::SniStatus::found) {
      refuse_log("-", fmt::format("refused: {}", to_string(peek.status)));
      if (peek.status != net::SniStatus::not_tls) co_await send_alert(alert_unrecognized_name);
      co_return;
    }

    // The upstream is the name the client asked for, on the port it connected to.
    registry::SessionInfo info{.id = id_, .client = client_, .host = peek.server_name, .port = listener.port(),
                     .own_listener = listener};
    if (!deps_.registry.registries.intercepts(info.host, info.port)) {
      refuse_log(info.authority(), "refused: not a registry this proxy intercepts (REGISTRIES)");
      co_await send_alert(alert_unrecognized_name);
      co_return;
    }
    const auto context = co_await leaf_for(deps_, id_, info.host);
    if (!context) {
      refuse_log(info.authority(), "certificate minting failed");
      co_await send_alert(alert_internal_error);
      co_return;
    }

    // The ClientHello we read for its SNI is the start of the handshake.
    std::string early(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.release();
    const HandshakeLog log{.host = info.authority(), .method = "TLS", .hint = "does the client trust /ca.crt?"};
    co_await serve_tls_session(std::move(socket_), *context, std::move(early), deps_, deadline_, std::move(info), log);
  }

  void refuse_log(std::string host, std::string error) {
    deps_.registry.observer.request_done({.session = id_, .client = client_, .host = std::move(host), .method = "TLS", .path = "-",
                .status = 0, .cache = registry::CacheStatus::local, .error = std::move(error)});
  }

  asio::awaitable<void> send_alert(const std::array<char, 7>& alert) {
    deadline_.expires_after(std::chrono::seconds(5));
    co_await http::write_all(socket_, std::string_view(alert.data(), alert.size()));
  }

  tcp::socket socket_;
  Dependencies& deps_;
  std::uint64_t id_;
  std::string client_;
  Deadline deadline_;
  http::ReadBuffer buffer_;
};

}  // namespace

asio::awaitable<void> serve_sni_client(tcp::socket socket, Dependencies& deps, std::uint64_t session_id) {
  auto ticket = co_await admit_connection(socket, deps, session_id, false);
  if (!ticket) co_return;
  SniSession session(std::move(socket), deps, session_id);
  co_await session.run();
}

}  // namespace pt::front
