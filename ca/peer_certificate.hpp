#pragma once
// The certificates and TLS contexts of the cluster's peer link (issue 15).
//
// Replicas of one cluster share the root CA (its Secret is mounted in every pod) and talk to each
// other over HTTPS on a "peer port". That port must admit replicas only, and "signed by our root"
// does not mean "a replica": every leaf the proxy mints for an intercepted host is signed by the
// same root, and anyone who can CONNECT through the proxy can make it mint one for a name of their
// choosing (though never hand over its key). So both sides of the peer link demand a certificate
// that carries a private extendedKeyUsage, peer_key_usage_oid, which only mint_peer_certificate
// writes, and only a holder of the root key can mint: a client that trusts the root but cannot
// sign with it, or one presenting an ordinary MITM leaf, fails the handshake. The marker is checked
// during certificate verification (not after the handshake), so a refused peer never gets to send
// a request, and a resumed session is always one whose certificate was checked.
#include "ca/cert_host.hpp"
#include "ca/leaf_minter.hpp"
#include "ca/root_ca.hpp"

#include <asio/ssl/context.hpp>

#include <memory>
#include <string_view>

namespace pt::ca {

// The extendedKeyUsage OID that marks a pullthrough peer certificate. It lives under 2.25, the arc
// of ITU-T X.667 / RFC 4122 section 4 where a UUID, written as one decimal integer, is an OID: no
// registration (no Private Enterprise Number) is needed, and a random (version 4) UUID collides
// with no one else's. This one is 1172c208-f731-478b-b0a9-910263c45651. It must never change: the
// replicas of a cluster being rolled run old and new code side by side, and each refuses the
// other's certificates if their markers differ.
inline constexpr std::string_view peer_key_usage_oid = "2.25.23192733268007321383075067177606600273";

// Mints the certificate a replica presents on the peer link, both as server and as client: a fresh
// EC P-256 key; subject CN "pullthrough peer <host>" (cut to 64 characters); SAN DNS:host, or
// IP:address for an IP literal; extendedKeyUsage serverAuth, clientAuth and peer_key_usage_oid; and
// otherwise exactly what mint_leaf's leaves carry (keyUsage digitalSignature, CA:FALSE, key
// identifiers, random serial, valid from a day ago for 365 days but never past the root, signed by
// the root with SHA-256).
//
// Blocking (key generation): called once, at start-up.
Leaf mint_peer_certificate(const RootCa& root, const CertHost& host);

// True when `cert` has an extendedKeyUsage that holds peer_key_usage_oid; false for null. Says
// nothing about who signed it: callers verify the chain first (the peer contexts below do both).
// Never throws, and leaves OpenSSL's error queue as it found it.
bool is_peer_certificate(X509* cert);

// The TLS contexts of the peer link. Both present `peer` (chain: just the leaf, as the other side
// holds the root already), trust `root` only (never the system store: a publicly trusted
// certificate proves nothing about being a replica), speak TLS 1.2 or newer (1.3 preferred), and
// require and verify the other side's certificate: it must chain to `root`, fit the purpose (the
// server verifies an sslclient, the client an sslserver) and be a peer certificate, else the
// handshake fails (for a certificate of `root` that is not a peer's, with verify result
// X509_V_ERR_INVALID_PURPOSE, "unsupported certificate purpose"). In TLS 1.3 the client's
// handshake completes before the server has judged the client's certificate, so a client that the
// server refuses learns it at its first read.
//
// Server: SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; session resumption by cache and by
// tickets, under a session id context of its own.
std::shared_ptr<asio::ssl::context> make_peer_server_context(const RootCa& root, const Leaf& peer);

// Client: SSL_VERIFY_PEER. Which host or IP the server's certificate must name is the caller's to
// set per connection (X509_VERIFY_PARAM_set1_host / set1_ip_asc on SSL_get0_param, as
// proxy/net/upstream_connection.cpp does). To resume, the caller keeps a connection's session
// (SSL_get1_session once a TLS 1.3 ticket has arrived, i.e. after the first read) and hands it to
// the next connection to the same replica (SSL_set_session).
std::shared_ptr<asio::ssl::context> make_peer_client_context(const RootCa& root, const Leaf& peer);

}  // namespace pt::ca
