#include "proxy/net/upstream_tls.hpp"

#include "ca/openssl_error.hpp"

#include <openssl/ssl.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::net {

UpstreamTls::UpstreamTls(bool verify, const std::string& ca_bundle_path)
    : context_(std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client)), verify_(verify) {
  SSL_CTX* ctx = context_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Registries speak HTTP/1.1 to us; offering only it keeps servers from choosing h2.
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  // Resumption makes the many short upstream connections of a pull cheap.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);

  if (!verify_) {
    context_->set_verify_mode(asio::ssl::verify_none);
    spdlog::warn("VERIFY_SSL=false: upstream TLS certificates are NOT verified; anyone on the path can "
                 "impersonate a registry");
    return;
  }
  context_->set_verify_mode(asio::ssl::verify_peer);
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    spdlog::warn("could not load the system trust store: {}", ca::openssl_error_string());
  }
  if (!ca_bundle_path.empty() && SSL_CTX_load_verify_locations(ctx, ca_bundle_path.c_str(), nullptr) != 1) {
    throw std::runtime_error(
        fmt::format("cannot load UPSTREAM_CA_BUNDLE '{}': {}", ca_bundle_path, ca::openssl_error_string()));
  }
}

}  // namespace pt::net
