#include "ca/peer_certificate.hpp"

#include "ca/openssl_error.hpp"
#include "ca/x509_builder.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <string>

namespace pt::ca {
namespace {

using Asn1ObjectPtr = OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;

constexpr std::string_view peer_common_name_prefix = "pullthrough peer ";

// Not make_server_context's: OpenSSL resumes a session only under the context it was created in,
// so a session of an ordinary intercepted connection can never be resumed on the peer port.
constexpr std::string_view peer_session_id_context = "pullthrough peer";

// peer_key_usage_oid as an OpenSSL object, parsed once (the verify callback asks on every
// handshake), with no_name = 1: dotted numbers only, never looked up as a name. Null only if
// OpenSSL cannot allocate it; it never throws, as the verify callback must not.
const ASN1_OBJECT* peer_key_usage() noexcept {
  static const Asn1ObjectPtr object(OBJ_txt2obj(std::string(peer_key_usage_oid).c_str(), 1));
  return object.get();
}

// OpenSSL's verify callback, called for every certificate of the other side's chain once the
// chain has been built and checked against the root (`preverified` is OpenSSL's verdict so far).
// Only the certificate at depth 0 is the other side's own; above it is the root.
int verify_peer(int preverified, X509_STORE_CTX* store) noexcept {
  if (preverified != 1) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  if (is_peer_certificate(X509_STORE_CTX_get_current_cert(store))) return 1;
  // "unsupported certificate purpose" is what the failed handshake then reports: the nearest of
  // OpenSSL's messages to "a certificate of our root, but not a peer's".
  X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
  return 0;
}

// What the two ends of the peer link share; `purpose` is what the other side's certificate must
// be good for, and `verify_mode` how insistently it is asked for.
std::shared_ptr<asio::ssl::context> make_peer_context(asio::ssl::context::method method,
                                                      const RootCa& root, const Leaf& peer,
                                                      int purpose, int verify_mode) {
  auto context = std::make_shared<asio::ssl::context>(method);
  SSL_CTX* native = context->native_handle();

  // TLS 1.3 is preferred by default (OpenSSL picks the highest version both sides offer).
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw_openssl_error("cannot require TLS 1.2");
  }
  // As make_server_context, for the same reasons: no compression (CRIME), no renegotiation.
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // NO_AUTO_CHAIN: without an explicit chain, OpenSSL would build one from the trust store below
  // and send the root along with the leaf on every handshake, to a side that holds it already.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);

  // SSL_CTX_use_* take their own references, so `peer` may be destroyed afterwards.
  if (SSL_CTX_use_certificate(native, peer.cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, peer.key.get()) != 1 ||
      SSL_CTX_check_private_key(native) != 1) {
    throw_openssl_error("cannot install the peer certificate");
  }

  // A new SSL_CTX's store is empty, and we never load the system's: the root is the only anchor.
  if (X509_STORE_add_cert(SSL_CTX_get_cert_store(native), root.cert()) != 1) {
    throw_openssl_error("cannot trust the root CA on the peer link");
  }
  if (SSL_CTX_set_purpose(native, purpose) != 1) {
    throw_openssl_error("cannot set the peer certificate purpose");
  }
  SSL_CTX_set_verify(native, verify_mode, verify_peer);
  return context;
}

}  // namespace

Leaf mint_peer_certificate(const RootCa& root, const CertHost& host) {
  const ASN1_OBJECT* marker = peer_key_usage();
  if (marker == nullptr) throw_openssl_error("cannot parse the peer key usage OID");
  EvpPkeyPtr key = generate_p256_key();
  // One certificate for both ends of a connection: serverAuth and clientAuth satisfy OpenSSL's
  // sslserver and sslclient purposes, the marker says "a replica".
  X509Ptr cert = issue_host_certificate(
      root.cert(), root.key(), key.get(), host, std::string(peer_common_name_prefix) + host.name,
      {OBJ_nid2obj(NID_server_auth), OBJ_nid2obj(NID_client_auth), marker});
  return Leaf{std::move(cert), std::move(key)};
}

bool is_peer_certificate(X509* cert) {
  const ASN1_OBJECT* marker = peer_key_usage();
  if (cert == nullptr || marker == nullptr) return false;
  // A malformed extension leaves decoding errors on the queue; the mark drops them, and only
  // them, so they are neither blamed on a later failure nor take an earlier error with them.
  ERR_set_mark();
  const ExtendedKeyUsagePtr usages(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  ERR_pop_to_mark();
  if (!usages) return false;  // no extendedKeyUsage (or not exactly one, or malformed)
  for (int i = 0; i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    if (OBJ_cmp(sk_ASN1_OBJECT_value(usages.get(), i), marker) == 0) return true;
  }
  return false;
}

std::shared_ptr<asio::ssl::context> make_peer_server_context(const RootCa& root, const Leaf& peer) {
  auto context = make_peer_context(asio::ssl::context::tls_server, root, peer, X509_PURPOSE_SSL_CLIENT,
                                   SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  SSL_CTX* native = context->native_handle();
  // Names the root in the CertificateRequest, so a client holding several certificates (and a
  // person debugging with `openssl s_client`) knows which one to present.
  if (SSL_CTX_add_client_CA(native, root.cert()) != 1) {
    throw_openssl_error("cannot name the root CA in certificate requests");
  }
  // Replicas reconnect to each other all the time; resumption skips the key exchange and the
  // signatures. A resumed session carries the client certificate that was verified when it was
  // created. One TLS 1.3 ticket is enough to resume.
  SSL_CTX_set_num_tickets(native, 1);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  if (SSL_CTX_set_session_id_context(
          native, reinterpret_cast<const unsigned char*>(peer_session_id_context.data()),
          static_cast<unsigned int>(peer_session_id_context.size())) != 1) {
    throw_openssl_error("cannot set the session id context");
  }
  return context;
}

std::shared_ptr<asio::ssl::context> make_peer_client_context(const RootCa& root, const Leaf& peer) {
  auto context =
      make_peer_context(asio::ssl::context::tls_client, root, peer, X509_PURPOSE_SSL_SERVER, SSL_VERIFY_PEER);
  // A client resumes only the session it is handed (SSL_set_session); CLIENT mode makes OpenSSL
  // report new sessions to a SSL_CTX_sess_set_new_cb callback, should the caller install one, and
  // NO_INTERNAL_STORE keeps them out of a cache that clients never look up and that would only grow.
  SSL_CTX_set_session_cache_mode(context->native_handle(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return context;
}

}  // namespace pt::ca
