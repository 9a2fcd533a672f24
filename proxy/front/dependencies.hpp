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
#include <string>
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

// Plain requests to the proxy itself on the proxy port (/ca.crt, /healthz, /metrics, the admin
// API...). Implemented by ops.
class LocalService {
public:
  virtual ~LocalService() = default;
  virtual asio::awaitable<http::LocalResponse> answer(const http::RequestHead& request,
                                                      const asio::ip::address& client) = 0;
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
