#include "proxy/front/mirror_port.hpp"

#include "common/deadline.hpp"
#include "proxy/front/admission.hpp"
#include "proxy/front/intercept.hpp"
#include "proxy/net/peer_text.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <fmt/format.h>

#include <stdexcept>

namespace pt::front {
namespace {

using asio::ip::tcp;

registry::MirrorRegistry default_registry_of(const MirrorSettings& config) {
  auto registry = registry::parse_mirror_registry(config.upstream);
  if (!registry) {
    throw std::invalid_argument(fmt::format("invalid MIRROR_UPSTREAM '{}' (expected host or host:port)",
                                            config.upstream));
  }
  return *registry;
}

std::unique_ptr<asio::ssl::context> tls_context_of(const MirrorSettings& config) {
  if (config.tls_cert.empty() && config.tls_key.empty()) return nullptr;
  if (config.tls_cert.empty() || config.tls_key.empty()) {
    throw std::invalid_argument("MIRROR_TLS_CERT and MIRROR_TLS_KEY must be set together");
  }
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
  std::error_code ec;
  context->use_certificate_chain_file(config.tls_cert, ec);
  if (ec) throw std::runtime_error(fmt::format("MIRROR_TLS_CERT {}: {}", config.tls_cert, ec.message()));
  context->use_private_key_file(config.tls_key, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error(fmt::format("MIRROR_TLS_KEY {}: {}", config.tls_key, ec.message()));
  return context;
}

}  // namespace

MirrorListener::MirrorListener(Dependencies& deps, const MirrorSettings& settings)
    : deps_(deps), tls_(tls_context_of(settings)), context_{.default_registry = default_registry_of(settings)} {}

asio::awaitable<void> MirrorListener::serve(tcp::socket socket, std::uint64_t session_id) {
  using namespace asio::experimental::awaitable_operators;
  // Held for the connection's life: it counts against the limits until then.
  auto ticket = co_await admit_connection(socket, deps_, session_id, !tls_);
  if (!ticket) co_return;
  Deadline deadline;
  registry::SessionInfo info{.id = session_id, .client = net::peer_text(socket), .host = context_.default_registry.host,
                   .port = context_.default_registry.port};
  std::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  auto session = [&]() -> asio::awaitable<void> {
    if (!tls_) {
      registry::Session mirror(socket, deps_.registry, deadline, info, &context_);
      co_await mirror.run();
      co_return;
    }
    const HandshakeLog log{.host = "mirror", .method = "-", .hint = "does the client trust MIRROR_TLS_CERT?"};
    co_await serve_tls_session(std::move(socket), *tls_, {}, deps_, deadline, info, log, &context_);
  };
  co_await (session() || deadline.watchdog());
}

}  // namespace pt::front
