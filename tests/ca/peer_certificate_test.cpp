#include "ca/peer_certificate.hpp"

#include "ca_test_support.hpp"

#include "ca/server_tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using pt::ca::is_peer_certificate;
using pt::ca::Leaf;
using pt::ca::mint_leaf;
using pt::ca::mint_peer_certificate;
using pt::ca::RootCa;
using pt::ca::test::shared_test_root;

namespace {

pt::ca::CertHost host(std::string_view text) { return pt::ca::CertHost::parse_or_throw(text); }

// A root other than shared_test_root(), as another cluster (or an attacker's own CA) would have.
const RootCa& other_root() {
  static const pt::ca::test::TempDir dir;
  static const RootCa root = RootCa::load_or_create(dir.path() / "ca");
  return root;
}

// Everything a peer certificate has except the marker, signed by the right root: what the leaf
// minter would produce if it ever added clientAuth. Refusing it proves the marker is checked, not
// just the purpose.
Leaf unmarked_lookalike(const RootCa& root) {
  auto key = pt::ca::generate_p256_key();
  auto cert = pt::ca::issue_host_certificate(root.cert(), root.key(), key.get(), host("peer.test"),
                                             "pullthrough peer peer.test",
                                             {OBJ_nid2obj(NID_server_auth), OBJ_nid2obj(NID_client_auth)});
  return Leaf{std::move(cert), std::move(key)};
}

std::vector<std::string> extended_key_usages(X509* cert) {
  const pt::ca::ExtendedKeyUsagePtr usages(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  std::vector<std::string> oids;
  for (int i = 0; usages && i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    char text[128] = {};
    REQUIRE(OBJ_obj2txt(text, sizeof text, sk_ASN1_OBJECT_value(usages.get(), i), 1) < int(sizeof text));
    oids.emplace_back(text);
  }
  return oids;
}

std::vector<int> subject_alt_name_types(X509* cert) {
  pt::ca::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<int> types;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    types.push_back(sk_GENERAL_NAME_value(names.get(), i)->type);
  }
  return types;
}

std::string common_name(X509* cert) {
  char text[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, text, sizeof text);
  return text;
}

// Seconds from `expected` (a time_t) to `actual`.
long long seconds_off(const ASN1_TIME* actual, std::time_t expected) {
  pt::ca::OpenSslPtr<ASN1_TIME, ASN1_TIME_free> reference(ASN1_TIME_set(nullptr, expected));
  int days = 0;
  int seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, reference.get(), actual) == 1);
  return days * 86400LL + seconds;
}

// Verifies `cert` against a store that trusts only `root`, for `purpose`; the X509_V_* code.
int verify(const RootCa& root, X509* cert, int purpose) {
  pt::ca::X509StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), root.cert()) == 1);
  pt::ca::X509StoreCtxPtr context(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(context.get(), store.get(), cert, nullptr) == 1);
  REQUIRE(X509_STORE_CTX_set_purpose(context.get(), purpose) == 1);
  X509_verify_cert(context.get());
  return X509_STORE_CTX_get_error(context.get());
}

// ---------------------------------------------------------------- in-memory handshakes

// A client context that is not a peer's: it trusts `root` and checks the server, but presents
// `cert` (or nothing), as an ordinary client of the proxy would.
pt::ca::SslCtxPtr plain_client_context(const RootCa& root, const Leaf* cert) {
  pt::ca::SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  REQUIRE(context);
  REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(context.get()), root.cert()) == 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  if (cert != nullptr) {
    REQUIRE(SSL_CTX_use_certificate(context.get(), cert->cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(context.get(), cert->key.get()) == 1);
  }
  return context;
}

enum class State { running, done, failed };

State step(SSL* ssl) {
  const int result = SSL_do_handshake(ssl);
  if (result == 1) return State::done;
  const int error = SSL_get_error(ssl, result);
  return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? State::running : State::failed;
}

bool transfer(SSL* from, SSL* to) {
  const char sent = 'x';
  char received = 0;
  return SSL_write(from, &sent, 1) == 1 && SSL_read(to, &received, 1) == 1 && received == sent;
}

struct Options {
  // The name the client expects the server's certificate to carry, set as the peer link's caller
  // does; empty: no name check.
  std::string expected_host;
  int client_max_version = 0;  // 0: OpenSSL's highest
  SSL_SESSION* resume = nullptr;
};

struct Handshake {
  pt::ca::SslPtr client;
  pt::ca::SslPtr server;
  State client_state = State::running;
  State server_state = State::running;
  // Application data flows both ways. In TLS 1.3 the client's handshake is done before the server
  // has looked at the client's certificate, so a refusal by the server shows on the client only
  // at its first read; this is what a peer-link caller actually sees.
  bool works = false;
  long client_verify_result = X509_V_OK;  // the client's verdict on the server's certificate
  long server_verify_result = X509_V_OK;  // and the reverse
  std::string errors;                     // OpenSSL's error queue, for INFO
};

// Runs a TLS handshake between two SSL objects joined by an in-memory BIO pair, then sends a byte
// each way (which also delivers TLS 1.3 session tickets to the client).
Handshake handshake(SSL_CTX* client_context, SSL_CTX* server_context, const Options& options = {}) {
  Handshake result;
  result.client.reset(SSL_new(client_context));
  result.server.reset(SSL_new(server_context));
  REQUIRE(result.client);
  REQUIRE(result.server);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1);
  SSL_set_bio(result.client.get(), client_end, client_end);  // each SSL now owns its end
  SSL_set_bio(result.server.get(), server_end, server_end);
  SSL_set_connect_state(result.client.get());
  SSL_set_accept_state(result.server.get());
  if (!options.expected_host.empty()) {
    REQUIRE(X509_VERIFY_PARAM_set1_host(SSL_get0_param(result.client.get()), options.expected_host.c_str(),
                                        options.expected_host.size()) == 1);
  }
  if (options.client_max_version != 0) {
    REQUIRE(SSL_set_max_proto_version(result.client.get(), options.client_max_version) == 1);
  }
  if (options.resume != nullptr) REQUIRE(SSL_set_session(result.client.get(), options.resume) == 1);

  for (int round = 0; round < 16; ++round) {
    if (result.client_state == State::running) result.client_state = step(result.client.get());
    if (result.server_state == State::running) result.server_state = step(result.server.get());
    if (result.client_state != State::running && result.server_state != State::running) break;
  }
  result.works = result.client_state == State::done && result.server_state == State::done &&
                 transfer(result.client.get(), result.server.get()) &&
                 transfer(result.server.get(), result.client.get());
  result.client_verify_result = SSL_get_verify_result(result.client.get());
  result.server_verify_result = SSL_get_verify_result(result.server.get());
  result.errors = pt::ca::openssl_error_string();  // also drains the queue for the next handshake
  return result;
}

struct PeerContexts {
  Leaf peer;
  std::shared_ptr<asio::ssl::context> server;
  std::shared_ptr<asio::ssl::context> client;
};

PeerContexts peer_contexts(const RootCa& root, std::string_view name = "peer.test") {
  PeerContexts contexts{mint_peer_certificate(root, host(name)), nullptr, nullptr};
  contexts.server = pt::ca::make_peer_server_context(root, contexts.peer);
  contexts.client = pt::ca::make_peer_client_context(root, contexts.peer);
  return contexts;
}

}  // namespace

// ---------------------------------------------------------------- the certificate

TEST_CASE("The peer marker is the OID of the UUID its comment names") {
  BIGNUM* parsed = nullptr;
  REQUIRE(BN_hex2bn(&parsed, "1172c208f731478bb0a9910263c45651") > 0);
  const pt::ca::BignumPtr uuid(parsed);
  char* text = BN_bn2dec(uuid.get());
  REQUIRE(text != nullptr);
  const std::string decimal(text);
  OPENSSL_free(text);
  CHECK(pt::ca::peer_key_usage_oid == "2.25." + decimal);
  // And OpenSSL reads it as one OID (no_name = 1: as numbers only).
  pt::ca::OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free> object(
      OBJ_txt2obj(std::string(pt::ca::peer_key_usage_oid).c_str(), 1));
  CHECK(object != nullptr);
}

TEST_CASE("A peer certificate names its host and carries the marker among its key usages") {
  const auto& root = shared_test_root();
  const std::time_t now = std::time(nullptr);
  const auto peer = mint_peer_certificate(root, host("Replica-0.Peers.Test"));
  X509* cert = peer.cert.get();
  CHECK(ERR_peek_error() == 0);

  CHECK(common_name(cert) == "pullthrough peer replica-0.peers.test");
  CHECK(subject_alt_name_types(cert) == std::vector<int>{GEN_DNS});
  CHECK(X509_check_host(cert, "replica-0.peers.test", 0, 0, nullptr) == 1);
  CHECK(extended_key_usages(cert) ==
        std::vector<std::string>{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", std::string(pt::ca::peer_key_usage_oid)});
  CHECK(X509_get_extended_key_usage(cert) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  CHECK(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_check_ca(cert) == 0);
  CHECK(X509_get_extension_flags(cert) & EXFLAG_BCONS);  // basicConstraints present, CA:FALSE
  REQUIRE(X509_get0_authority_key_id(cert) != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(root.cert())) == 0);
  CHECK(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(root.cert())) == 0);
  CHECK(X509_check_private_key(cert, peer.key.get()) == 1);
  CHECK(EVP_PKEY_is_a(peer.key.get(), "EC"));
  CHECK(X509_get_signature_nid(cert) == NID_ecdsa_with_SHA256);
  CHECK(std::llabs(seconds_off(X509_get0_notBefore(cert), now - 86400)) <= 60);
  CHECK(std::llabs(seconds_off(X509_get0_notAfter(cert), now + 365 * 86400)) <= 60);

  // Good for both ends of a connection.
  CHECK(verify(root, cert, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(verify(root, cert, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify(other_root(), cert, X509_PURPOSE_SSL_CLIENT) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("A peer certificate for an IP literal carries an IP subjectAltName") {
  const auto peer = mint_peer_certificate(shared_test_root(), host("10.0.0.7"));
  CHECK(subject_alt_name_types(peer.cert.get()) == std::vector<int>{GEN_IPADD});
  CHECK(X509_check_ip_asc(peer.cert.get(), "10.0.0.7", 0) == 1);
  CHECK(common_name(peer.cert.get()) == "pullthrough peer 10.0.0.7");

  const auto v6 = mint_peer_certificate(shared_test_root(), host("[fd00::7]"));
  CHECK(X509_check_ip_asc(v6.cert.get(), "fd00::7", 0) == 1);
}

TEST_CASE("A long host name is cut in the peer CN but whole in the SAN") {
  const std::string name = std::string(60, 'a') + ".peers.test";
  const auto peer = mint_peer_certificate(shared_test_root(), host(name));
  CHECK(common_name(peer.cert.get()) == ("pullthrough peer " + name).substr(0, 64));
  CHECK(X509_check_host(peer.cert.get(), name.c_str(), name.size(), 0, nullptr) == 1);
}

TEST_CASE("Only peer certificates are peer certificates") {
  const auto& root = shared_test_root();
  CHECK(is_peer_certificate(mint_peer_certificate(root, host("peer.test")).cert.get()));
  CHECK_FALSE(is_peer_certificate(mint_leaf(root, "peer.test").cert.get()));
  CHECK_FALSE(is_peer_certificate(unmarked_lookalike(root).cert.get()));
  CHECK_FALSE(is_peer_certificate(root.cert()));  // no extendedKeyUsage at all
  CHECK_FALSE(is_peer_certificate(nullptr));
  CHECK(ERR_peek_error() == 0);
}

// ---------------------------------------------------------------- the peer link

TEST_CASE("Two peers of one root connect over TLS 1.3, each sending only its own certificate") {
  const auto& root = shared_test_root();
  const auto server = peer_contexts(root, "replica-0.peers.test");
  const auto client = peer_contexts(root, "replica-1.peers.test");

  const auto link = handshake(client.client->native_handle(), server.server->native_handle(),
                              {.expected_host = "replica-0.peers.test"});
  INFO(link.errors);
  REQUIRE(link.works);
  CHECK(SSL_version(link.client.get()) == TLS1_3_VERSION);
  X509* client_seen = SSL_get0_peer_certificate(link.server.get());
  REQUIRE(client_seen != nullptr);
  CHECK(X509_cmp(client_seen, client.peer.cert.get()) == 0);
  CHECK(X509_cmp(SSL_get0_peer_certificate(link.client.get()), server.peer.cert.get()) == 0);
  // The chain on the wire is the leaf alone (on a client this list includes the leaf, on a server
  // it does not): the other side holds the root already.
  CHECK(sk_X509_num(SSL_get_peer_cert_chain(link.client.get())) == 1);
  CHECK(sk_X509_num(SSL_get_peer_cert_chain(link.server.get())) == 0);
}

TEST_CASE("Two peers connect over TLS 1.2 too") {
  const auto& root = shared_test_root();
  const auto server = peer_contexts(root);
  const auto client = peer_contexts(root);
  const auto link = handshake(client.client->native_handle(), server.server->native_handle(),
                              {.client_max_version = TLS1_2_VERSION});
  INFO(link.errors);
  REQUIRE(link.works);
  CHECK(SSL_version(link.client.get()) == TLS1_2_VERSION);
}

TEST_CASE("The peer client checks the host name its caller sets") {
  const auto& root = shared_test_root();
  const auto server = peer_contexts(root, "replica-0.peers.test");
  const auto client = peer_contexts(root, "replica-1.peers.test");
  const auto link = handshake(client.client->native_handle(), server.server->native_handle(),
                              {.expected_host = "replica-2.peers.test"});
  CHECK_FALSE(link.works);
  CHECK(link.client_state == State::failed);
  CHECK(link.client_verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_CASE("A peer session resumes, with the client certificate verified when it was created") {
  const auto& root = shared_test_root();
  const auto server = peer_contexts(root);
  const auto client = peer_contexts(root);

  const auto first = handshake(client.client->native_handle(), server.server->native_handle());
  INFO(first.errors);
  REQUIRE(first.works);
  CHECK_FALSE(SSL_session_reused(first.client.get()));
  pt::ca::OpenSslPtr<SSL_SESSION, SSL_SESSION_free> session(SSL_get1_session(first.client.get()));
  REQUIRE(session);
  REQUIRE(SSL_SESSION_is_resumable(session.get()));

  const auto second = handshake(client.client->native_handle(), server.server->native_handle(),
                                {.resume = session.get()});
  INFO(second.errors);
  REQUIRE(second.works);
  CHECK(SSL_session_reused(second.client.get()));
  CHECK(SSL_session_reused(second.server.get()));
  CHECK(is_peer_certificate(SSL_get0_peer_certificate(second.server.get())));
}

TEST_CASE("A session of an ordinary intercepted connection does not resume on the peer port") {
  const auto& root = shared_test_root();
  const auto peer = peer_contexts(root);
  const auto leaf_server = pt::ca::make_server_context(mint_leaf(root, "peer.test"));
  const auto client_cert = mint_peer_certificate(root, host("peer.test"));
  const auto client = plain_client_context(root, &client_cert);

  const auto ordinary = handshake(client.get(), leaf_server->native_handle());
  INFO(ordinary.errors);
  REQUIRE(ordinary.works);
  pt::ca::OpenSslPtr<SSL_SESSION, SSL_SESSION_free> session(SSL_get1_session(ordinary.client.get()));
  REQUIRE(session);

  const auto link = handshake(client.get(), peer.server->native_handle(), {.resume = session.get()});
  INFO(link.errors);
  REQUIRE(link.works);  // a full handshake instead, with the client's peer certificate verified
  CHECK_FALSE(SSL_session_reused(link.server.get()));
}

TEST_CASE("The peer server refuses clients that are not peers of its root") {
  const auto& root = shared_test_root();
  const auto server = peer_contexts(root);
  SSL_CTX* server_context = server.server->native_handle();

  SECTION("a client presenting no certificate") {
    const auto client = plain_client_context(root, nullptr);
    const auto link = handshake(client.get(), server_context);
    CHECK_FALSE(link.works);
    CHECK(link.server_state == State::failed);
  }
  SECTION("a client presenting a leaf of the right root") {
    const auto leaf = mint_leaf(root, "peer.test");
    const auto client = plain_client_context(root, &leaf);
    const auto link = handshake(client.get(), server_context);
    CHECK_FALSE(link.works);
    CHECK(link.server_state == State::failed);
    CHECK(link.server_verify_result == X509_V_ERR_INVALID_PURPOSE);
  }
  SECTION("a client presenting a clientAuth certificate of the right root without the marker") {
    const auto lookalike = unmarked_lookalike(root);
    const auto client = plain_client_context(root, &lookalike);
    for (const int version : {0, TLS1_2_VERSION}) {
      INFO("client max version " << version);
      const auto link = handshake(client.get(), server_context, {.client_max_version = version});
      CHECK_FALSE(link.works);
      CHECK(link.server_state == State::failed);
      CHECK(link.server_verify_result == X509_V_ERR_INVALID_PURPOSE);
    }
  }
  SECTION("a peer of another root") {
    const auto stranger = peer_contexts(other_root());
    // It even trusts our root, so only the server's check can stop it.
    const auto client = plain_client_context(root, &stranger.peer);
    const auto link = handshake(client.get(), server_context);
    CHECK_FALSE(link.works);
    CHECK(link.server_state == State::failed);
    CHECK(link.server_verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    const auto from_peer_context = handshake(stranger.client->native_handle(), server_context);
    CHECK_FALSE(from_peer_context.works);
  }
}

TEST_CASE("The peer client refuses servers that are not peers of its root") {
  const auto& root = shared_test_root();
  const auto client = peer_contexts(root);
  SSL_CTX* client_context = client.client->native_handle();

  SECTION("a server presenting a leaf of the right root (the proxy's own MITM context)") {
    const auto server = pt::ca::make_server_context(mint_leaf(root, "peer.test"));
    const auto link = handshake(client_context, server->native_handle(), {.expected_host = "peer.test"});
    CHECK_FALSE(link.works);
    CHECK(link.client_state == State::failed);
    CHECK(link.client_verify_result == X509_V_ERR_INVALID_PURPOSE);
  }
  SECTION("a server presenting a serverAuth certificate of the right root without the marker") {
    const auto server = pt::ca::make_server_context(unmarked_lookalike(root));
    const auto link = handshake(client_context, server->native_handle());
    CHECK_FALSE(link.works);
    CHECK(link.client_state == State::failed);
    CHECK(link.client_verify_result == X509_V_ERR_INVALID_PURPOSE);
  }
  SECTION("a peer server of another root") {
    const auto stranger = peer_contexts(other_root());
    const auto link = handshake(client_context, stranger.server->native_handle());
    CHECK_FALSE(link.works);
    CHECK(link.client_state == State::failed);
    CHECK(link.client_verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  }
}
