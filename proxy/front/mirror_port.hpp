#pragma once
// The registry-mirror listener (MIRROR_LISTEN): clients configured with the proxy as a registry
// mirror (containerd hosts.toml, docker's registry-mirrors, skopeo docker://mirror:port/...) talk
// to it as to a registry, over plain HTTP or TLS (MIRROR_TLS_CERT/KEY). Each connection is served
// by a registry session in mirror mode: same cache, credentials and policy as an intercepted CONNECT.
#include "proxy/front/dependencies.hpp"
#include "proxy/registry/mirror_context.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace pt::front {

struct MirrorSettings {
  std::string upstream = "registry-1.docker.io";  // MIRROR_UPSTREAM: the registry when a request names none
  std::string tls_cert;                           // MIRROR_TLS_CERT and MIRROR_TLS_KEY: https when both are set
  std::string tls_key;
};

class MirrorListener {
public:
  // Throws std::invalid_argument / std::runtime_error (fatal at start-up) for a bad
  // MIRROR_UPSTREAM or an unreadable MIRROR_TLS_CERT/KEY, naming the setting.
  MirrorListener(Dependencies& deps, const MirrorSettings& settings);

  // Serves one accepted connection; one coroutine per connection, like serve_client.
  asio::awaitable<void> serve(asio::ip::tcp::socket socket, std::uint64_t session_id);

  bool uses_tls() const { return tls_ != nullptr; }
  const registry::MirrorRegistry& default_registry() const { return context_.default_registry; }

private:
  Dependencies& deps_;
  std::unique_ptr<asio::ssl::context> tls_;
  registry::MirrorContext context_;
};

}  // namespace pt::front
