#pragma once
// The steps shared by creating the root CA, minting leaves and minting peer certificates. Each
// throws std::runtime_error (via throw_openssl_error) when OpenSSL fails, which for these in-memory
// operations means a bug or an exhausted system (no entropy, no memory), never bad input.
#include "ca/cert_host.hpp"
#include "ca/openssl_ptr.hpp"

#include <chrono>
#include <initializer_list>
#include <string_view>

namespace pt::ca {

// A fresh EC P-256 key pair: small and fast to generate, and accepted by every TLS client we serve.
EvpPkeyPtr generate_p256_key();

// An empty X.509 v3 certificate carrying `subject_key`'s public key and a random positive 128-bit
// serial number. Random serials keep every certificate unique without state on disk, so a restart
// never reissues a serial that a client has already seen with a different key.
X509Ptr new_certificate(EVP_PKEY* subject_key);

// Sets notBefore/notAfter to `not_before`/`not_after` (UTC).
void set_validity(X509* cert, std::chrono::system_clock::time_point not_before,
                  std::chrono::system_clock::time_point not_after);

// Adds an extension from its OpenSSL structure (BASIC_CONSTRAINTS, GENERAL_NAMES, ...), so no
// value ever passes through OpenSSL's configuration-string parser.
void add_extension(X509* cert, int nid, void* value, bool critical);

void add_basic_constraints(X509* cert, bool is_ca);

// `bits` are KeyUsage bit numbers, e.g. {key_usage::digital_signature}.
void add_key_usage(X509* cert, std::initializer_list<int> bits);

namespace key_usage {
// Bit positions of the KeyUsage BIT STRING, RFC 5280 section 4.2.1.3.
inline constexpr int digital_signature = 0;
inline constexpr int key_cert_sign = 5;
inline constexpr int crl_sign = 6;
}  // namespace key_usage

// subjectKeyIdentifier = SHA-1 of the subject public key (RFC 5280 section 4.2.1.2, method 1).
void add_subject_key_identifier(X509* cert);

// authorityKeyIdentifier = the issuer's subjectKeyIdentifier, which is how clients pick the issuer
// when several candidates share a subject name. Adds nothing if the issuer has no identifier.
void add_authority_key_identifier(X509* cert, X509* issuer);

// Signs with SHA-256, or with no separate digest for keys that mandate their own (Ed25519/Ed448).
void sign_certificate(X509* cert, EVP_PKEY* signing_key);

// An end-entity certificate for `host` carrying `subject_key`, signed by `issuer_key` (whose
// certificate is `issuer`): everything a leaf (mint_leaf) and a peer certificate
// (mint_peer_certificate) have in common, so the two differ only in their subject name and
// extended key usages, never by accident.
//   subject CN=`common_name` (cut to 64 characters, X.520's limit; clients match the SAN, never
//   the CN), issuer = `issuer`'s subject; SAN DNS:host, or IP:address for an IP literal;
//   extendedKeyUsage `purposes` (in that order); keyUsage digitalSignature; basicConstraints
//   CA:FALSE; subject and authority key identifiers; random 128-bit serial; valid from a day ago
//   (clients' clocks drift) for 365 days, but never past `issuer`'s own expiry.
// `purposes` are borrowed: the certificate keeps its own copies.
X509Ptr issue_host_certificate(X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* subject_key,
                               const CertHost& host, std::string_view common_name,
                               std::initializer_list<const ASN1_OBJECT*> purposes);

}  // namespace pt::ca
