#pragma once
// What the listeners need, handed in by the app: their settings, the registry sessions' own
// dependencies (passed on to every session), and the services that decide before a session
// starts. The proxy's own pages come in as a LocalService, so this layer never reaches up to ops.
#include "proxy/http/codec.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/registry/dependencies.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pt {
namespace auth {
class ConnectPolicy;
class ProxyAuthenticator;
}  // namespace auth
namespace ca {
class LeafContextCache;
}  // namespace ca
}  // namespace pt

namespace pt::front {

class ConnectionLimits;

// The listeners' own settings; the timeouts and header limit they share with the sessions are the
// sessions' (registry::Settings).
struct Settings {
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  // The ports this proxy listens on: a tunnel to one of them on this host would loop.
  std::vector<std::uint16_t> own_ports;
};

// The connection of a local request answered as it goes rather than as one LocalResponse: its
// body read on demand, its answer written piece by piece (POST /admin/warm streams progress).
// Implemented by the proxy port.
class LocalExchange {
public:
  virtual ~LocalExchange() = default;
  // The request's body; nullopt when it is larger than `limit`, malformed, or the client went away.
  virtual asio::awaitable<std::optional<std::string>> read_body(std::size_t limit) = 0;
  // Writes `bytes` as they are (the caller frames its response); an error when the client is gone.
  virtual asio::awaitable<std::error_code> write(std::string_view bytes) = 0;
  // How long the answer may go without writing before the connection is given up: a streamed
  // answer waits on upstreams, which have their own timeouts.
  virtual void allow_silence(std::chrono::milliseconds) = 0;
};

// Plain requests to the proxy itself on the proxy port (/ca.crt, /healthz, /metrics, the admin
// API...). Implemented by ops.
class LocalService {
public:
  virtual ~LocalService() = default;
  virtual asio::awaitable<http::LocalResponse> answer(const http::RequestHead& request,
                                                      const asio::ip::address& client) = 0;
  // Asked first: a request this service answers over `io` itself. nullopt: not one of those, answer()
  // it; else whether the connection may carry another request.
  virtual asio::awaitable<std::optional<bool>> exchange(const http::RequestHead& request,
                                                        const asio::ip::address& client, LocalExchange& io) {
    (void)request, (void)client, (void)io;
    co_return std::nullopt;
  }
};

struct Dependencies {
  Settings settings;
  registry::Dependencies& registry;  // handed to every registry session
  ca::LeafContextCache& leaves;
  LocalService& local;
  std::atomic<bool>& serving;  // true while the listeners accept (/healthz reads it)
  // Who may use the proxy. Null members impose nothing (tests build Dependencies by hand).
  ConnectionLimits* limits = nullptr;                   // ALLOWED_CLIENTS, MAX_CONNECTIONS*
  auth::ProxyAuthenticator* proxy_auth = nullptr;       // PROXY_AUTH_FILE
  const auth::ConnectPolicy* connect_policy = nullptr;  // ALLOWED_CONNECT
};

}  // namespace pt::front
