#pragma once
// Leaf certificates for the hosts whose TLS the proxy terminates, signed by the root CA.
#include "ca/cert_host.hpp"
#include "ca/openssl_ptr.hpp"
#include "ca/root_ca.hpp"

#include <string_view>

namespace pt::ca {

struct Leaf {
  X509Ptr cert;
  EvpPkeyPtr key;
};

// Mints a server certificate for `host` with a fresh EC P-256 key:
//   subject CN=host (cut to 64 characters; clients match the SAN, never the CN), issuer = the
//   root's subject; SAN DNS:host, or IP:address for an IP literal; extendedKeyUsage serverAuth;
//   keyUsage digitalSignature; basicConstraints CA:FALSE; subject and authority key identifiers;
//   random 128-bit serial; valid from a day ago (clients' clocks drift) for 365 days, but never
//   past the root's own expiry; signed with the root key using SHA-256.
//
// Blocking: key generation and signing take milliseconds, so callers on I/O threads go through
// LeafContextCache, which runs this on the blocking pool. Safe to call from several threads at
// once with the same root.
Leaf mint_leaf(const RootCa& root, const CertHost& host);

// As above after CertHost::parse_or_throw: throws std::invalid_argument for an invalid host name.
Leaf mint_leaf(const RootCa& root, std::string_view host);

}  // namespace pt::ca
