#include "proxy/net/upstream_connection.hpp"

#include "proxy/net/dns_resolver.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"

#include <asio/connect.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace pt::net {
namespace {

bool is_ip_literal(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Describes a failed handshake; a certificate problem says which, since that is what users fix.
std::string handshake_failure(SSL* ssl, const std::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return fmt::format("upstream certificate rejected: {} (set UPSTREAM_CA_BUNDLE, or VERIFY_SSL=false)",
                       X509_verify_cert_error_string(verify));
  }
  return fmt::format("TLS handshake failed: {}", ec.message());
}

}  // namespace

asio::awaitable<ResolvedUpstream> resolve_upstream(const std::string& host, std::uint16_t port,
                                                   const ResolveOverrides& overrides) {
  auto executor = co_await asio::this_coro::executor;
  std::string address = host;
  if (auto override = overrides.lookup(host)) {
    address = override->address;
    if (override->port) port = *override->port;
  }
  ResolvedUpstream resolved;
  std::error_code ec;
  if (auto ip = asio::ip::make_address(address, ec); !ec) {
    resolved.endpoints.emplace_back(ip, port);
    co_return resolved;
  }
  if (const auto* dns = overrides.dns()) {
    auto answer = co_await dns->resolve(address);
    if (!answer.ok()) {
      resolved.error = fmt::format("cannot resolve {} (RESOLVERS): {}", address, answer.error);
      co_return resolved;
    }
    resolved.endpoints = answer.endpoints(port);
    co_return resolved;
  }
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, results] = co_await resolver.async_resolve(address, std::to_string(port), nothrow_awaitable);
  if (resolve_ec) {
    resolved.error = fmt::format("cannot resolve {}: {}", address, resolve_ec.message());
    co_return resolved;
  }
  for (const auto& entry : results) resolved.endpoints.push_back(entry.endpoint());
  if (resolved.endpoints.empty()) resolved.error = fmt::format("cannot resolve {}: no addresses", address);
  co_return resolved;
}

bool reaches_listener(const asio::ip::tcp::endpoint& candidate, const asio::ip::tcp::endpoint& listener) {
  if (candidate.port() != listener.port()) return false;
  auto plain = [](const asio::ip::address& a) {
    return a.is_v6() && a.to_v6().is_v4_mapped() ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6())) : a;
  };
  const auto address = plain(candidate.address());
  const auto own = plain(listener.address());
  if (address == own) return true;
  return own.is_unspecified() && (address.is_loopback() || address.is_unspecified());
}

asio::awaitable<std::optional<std::string>> connect_tcp(asio::ip::tcp::socket& socket, const std::string& host,
                                                        std::uint16_t port, const ResolveOverrides& overrides,
                                                        std::optional<asio::ip::tcp::endpoint> refuse) {
  auto resolved = co_await resolve_upstream(host, port, overrides);
  if (resolved.endpoints.empty()) co_return resolved.error;
  if (refuse) {
    for (const auto& endpoint : resolved.endpoints) {
      if (reaches_listener(endpoint, *refuse)) {
        co_return fmt::format("{} resolves to this proxy's own listener {} (a DNS-hijack loop): point it at the "
                              "real registry with UPSTREAM_RESOLVE or RESOLVERS",
                              host, endpoint.address().to_string());
      }
    }
  }
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, resolved.endpoints, nothrow_awaitable);
  if (connect_ec) {
    co_return fmt::format("connect to {} ({}:{}) failed: {}", host, resolved.endpoints.front().address().to_string(),
                          resolved.endpoints.front().port(), connect_ec.message());
  }
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return std::nullopt;
}

asio::awaitable<std::optional<UpstreamFailure>> UpstreamConnection::open(const std::string& host,
                                                                         std::uint16_t port) {
  close();
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  if (auto failure = co_await connect_tcp(socket, host, port, overrides_, refuse_)) {
    co_return UpstreamFailure{.message = *failure, .unreachable = true};
  }
  Stream stream(std::move(socket), tls_.context().native_handle(), TlsStream::Role::client);

  SSL* ssl = stream.native_handle();
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (tls_.verify()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
  }
  auto [ec] = co_await stream.async_handshake(nothrow_awaitable);
  if (ec) {
    co_return UpstreamFailure{.message = fmt::format("{}:{}: {}", host, port, handshake_failure(ssl, ec)),
                              .unreachable = false};
  }

  stream_.emplace(std::move(stream));
  buffer_ = http::ReadBuffer();
  host_ = host;
  port_ = port;
  requests_ = 0;
  co_return std::nullopt;
}

void UpstreamConnection::close() {
  if (!stream_) return;
  std::error_code ignored;
  stream_->next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_->next_layer().close(ignored);
  stream_.reset();
}

}  // namespace pt::net
