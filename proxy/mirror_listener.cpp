#include "proxy/mirror_listener.hpp"

#include "proxy/access_log.hpp"
#include "proxy/config.hpp"
#include "proxy/deadline.hpp"
#include "proxy/message_io.hpp"
#include "proxy/mitm_session.hpp"
#include "proxy/server.hpp"
#include "proxy/services.hpp"
#include "proxy/tls_stream.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <fmt/format.h>

#include <stdexcept>

namespace pt {
namespace {

using asio::ip::tcp;

MirrorRegistry default_registry_of(const Config& config) {
  auto registry = parse_mirror_registry(config.mirror_upstream);
  if (!registry) {
    throw std::invalid_argument(fmt::format("invalid MIRROR_UPSTREAM '{}' (expected host or host:port)",
                                            config.mirror_upstream));
  }
  return *registry;
}

std::unique_ptr<asio::ssl::context> tls_context_of(const Config& config) {
  if (config.mirror_tls_cert.empty() && config.mirror_tls_key.empty()) return nullptr;
  if (config.mirror_tls_cert.empty() || config.mirror_tls_key.empty()) {
    throw std::invalid_argument("MIRROR_TLS_CERT and MIRROR_TLS_KEY must be set together");
  }
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
  std::error_code ec;
  context->use_certificate_chain_file(config.mirror_tls_cert, ec);
  if (ec) throw std::runtime_error(fmt::format("MIRROR_TLS_CERT {}: {}", config.mirror_tls_cert, ec.message()));
  context->use_private_key_file(config.mirror_tls_key, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error(fmt::format("MIRROR_TLS_KEY {}: {}", config.mirror_tls_key, ec.message()));
  return context;
}

}  // namespace

MirrorListener::MirrorListener(Services& services, const Config& config)
    : services_(services), tls_(tls_context_of(config)), context_{.default_registry = default_registry_of(config)} {}

asio::awaitable<void> MirrorListener::serve(tcp::socket socket, std::uint64_t session_id) {
  using namespace asio::experimental::awaitable_operators;
  // Held for the connection's life: it counts against the limits until then.
  auto ticket = co_await admit_connection(socket, services_, session_id, !tls_);
  if (!ticket) co_return;
  Deadline deadline;
  SessionInfo info{.id = session_id, .client = peer_text(socket), .host = context_.default_registry.host,
                   .port = context_.default_registry.port};
  std::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  auto session = [&]() -> asio::awaitable<void> {
    if (!tls_) {
      MitmSession mirror(socket, services_, deadline, info, &context_);
      co_await mirror.run();
      co_return;
    }
    TlsStream tls(std::move(socket), tls_->native_handle(), TlsStream::Role::server);
    deadline.expires_after(services_.config.header_timeout);
    auto [ec] = co_await tls.async_handshake(nothrow_awaitable);
    if (ec) {
      log_access({.session = session_id, .client = info.client, .host = "mirror", .method = "-", .path = "-",
                  .cache = "LOCAL",
                  .error = fmt::format("mirror TLS handshake failed: {} (does the client trust MIRROR_TLS_CERT?)",
                                       ec.message())});
      co_return;
    }
    MitmSession mirror(tls, services_, deadline, info, &context_);
    co_await mirror.run();
  };
  co_await (session() || deadline.watchdog());
}

}  // namespace pt
