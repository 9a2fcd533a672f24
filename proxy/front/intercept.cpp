#include "proxy/front/intercept.hpp"

#include "ca/leaf_context_cache.hpp"
#include "common/awaitable.hpp"
#include "proxy/net/tls_stream.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::front {

asio::awaitable<std::shared_ptr<asio::ssl::context>> leaf_for(Dependencies& deps, std::uint64_t session,
                                                              const std::string& host) {
  try {
    co_return co_await deps.leaves.context_for(host);
  } catch (const std::exception& e) {
    spdlog::error("session {}: cannot mint a certificate for {}: {}", session, host, e.what());
  }
  co_return nullptr;
}

asio::awaitable<void> serve_tls_session(asio::ip::tcp::socket socket, asio::ssl::context& context, std::string early,
                                        Dependencies& deps, Deadline& deadline, registry::SessionInfo info,
                                        const HandshakeLog& log, registry::MirrorContext* mirror) {
  net::TlsStream tls(std::move(socket), context.native_handle(), net::TlsStream::Role::server, std::move(early));
  deadline.expires_after(deps.registry.settings.header_timeout);
  auto [ec] = co_await tls.async_handshake(nothrow_awaitable);
  if (ec) {
    // Most often: the client does not trust the certificate. Say so, since that is the fix.
    deps.registry.observer.request_done(
        {.session = info.id, .client = info.client, .host = log.host, .method = log.method, .path = "-",
         .cache = log.cache, .error = fmt::format("{} TLS handshake failed: {} ({})",
                                                  info.from_peer ? "peer" : mirror ? "mirror" : "client", ec.message(), log.hint)});
    co_return;
  }
  registry::Session session(tls, deps.registry, deadline, std::move(info), mirror);
  co_await session.run();
}

}  // namespace pt::front
