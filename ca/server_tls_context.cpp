#include "ca/server_tls_context.hpp"

#include "ca/openssl_error.hpp"

#include <openssl/ssl.h>

namespace pt::ca {
namespace {

// OpenSSL resumes a session only under the session id context it was created in, and refuses to
// resume at all without one once client certificates come into play; any fixed string serves.
constexpr std::string_view session_id_context = "pullthrough";

int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
                const unsigned char* in, unsigned int in_length, void* /*arg*/) {
  const auto selected =
      select_alpn_protocol(std::string_view(reinterpret_cast<const char*>(in), in_length));
  if (selected.empty()) return SSL_TLSEXT_ERR_NOACK;  // carry on without ALPN, never fail
  // Points into `in`, which OpenSSL keeps alive for the rest of the handshake.
  *out = reinterpret_cast<const unsigned char*>(selected.data());
  *out_length = static_cast<unsigned char>(selected.size());
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string_view select_alpn_protocol(std::string_view client_protocols) {
  while (!client_protocols.empty()) {
    const auto length = static_cast<unsigned char>(client_protocols.front());
    client_protocols.remove_prefix(1);
    if (length == 0 || length > client_protocols.size()) return {};
    const auto protocol = client_protocols.substr(0, length);
    if (protocol == alpn_http_1_1) return protocol;
    client_protocols.remove_prefix(length);
  }
  return {};
}

std::shared_ptr<asio::ssl::context> make_server_context(const Leaf& leaf) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();

  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw_openssl_error("cannot require TLS 1.2");
  }
  // Compression invites CRIME-style attacks; clients may not renegotiate (needless for HTTP/1.1,
  // and a CPU cost they could impose on us at will).
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Idle keep-alive connections (a node between pulls) would otherwise hold ~34 KiB of OpenSSL
  // record buffers each; with this they are freed while nothing is in flight.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // One TLS 1.3 ticket is enough to resume; the default of two costs a signature-free but
  // still measurable encryption per handshake.
  SSL_CTX_set_num_tickets(native, 1);

  // SSL_CTX_use_* take their own references, so `leaf` may be destroyed afterwards.
  if (SSL_CTX_use_certificate(native, leaf.cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, leaf.key.get()) != 1 ||
      SSL_CTX_check_private_key(native) != 1) {
    throw_openssl_error("cannot install the leaf certificate");
  }

  // Docker pulls open many connections to one host in a row; resumption skips the key exchange.
  // Tickets are on by default; the server-side cache needs a session id context.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  if (SSL_CTX_set_session_id_context(native,
                                     reinterpret_cast<const unsigned char*>(session_id_context.data()),
                                     static_cast<unsigned int>(session_id_context.size())) != 1) {
    throw_openssl_error("cannot set the session id context");
  }

  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  return context;
}

}  // namespace pt::ca
