#include "ca/x509_builder.hpp"

#include "ca/openssl_error.hpp"

#include <openssl/rand.h>

#include <array>

namespace pt::ca {

EvpPkeyPtr generate_p256_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw_openssl_error("cannot generate an EC P-256 key");
  return key;
}

X509Ptr new_certificate(EVP_PKEY* subject_key) {
  X509Ptr cert(X509_new());
  if (!cert) throw_openssl_error("cannot allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) throw_openssl_error("cannot set version");

  // 128 random bits read as an unsigned number: positive by construction, and at most 17 DER
  // octets, within RFC 5280's limit of 20.
  constexpr int serial_bits = 128;
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), serial_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    throw_openssl_error("cannot set a random serial number");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) throw_openssl_error("cannot set public key");
  return cert;
}

void set_validity(X509* cert, std::chrono::system_clock::time_point not_before,
                  std::chrono::system_clock::time_point not_after) {
  using std::chrono::system_clock;
  if (ASN1_TIME_set(X509_getm_notBefore(cert), system_clock::to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), system_clock::to_time_t(not_after)) == nullptr) {
    throw_openssl_error("cannot set validity");
  }
}

void add_extension(X509* cert, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_REPLACE) != 1) {
    throw_openssl_error(std::string("cannot add extension ") + OBJ_nid2sn(nid));
  }
}

void add_basic_constraints(X509* cert, bool is_ca) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) throw_openssl_error("cannot allocate basicConstraints");
  constraints->ca = is_ca ? 0xFF : 0;
  // Critical, as RFC 5280 requires for CA certificates; harmless and conventional on leaves.
  add_extension(cert, NID_basic_constraints, constraints.get(), true);
}

void add_key_usage(X509* cert, std::initializer_list<int> bits) {
  Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) throw_openssl_error("cannot allocate keyUsage");
  for (const int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1) throw_openssl_error("cannot set keyUsage");
  }
  add_extension(cert, NID_key_usage, usage.get(), true);
}

void add_subject_key_identifier(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  Asn1OctetStringPtr identifier(ASN1_OCTET_STRING_new());
  if (!identifier ||
      X509_pubkey_digest(cert, EVP_sha1(), digest.data(), &length) != 1 ||
      ASN1_OCTET_STRING_set(identifier.get(), digest.data(), static_cast<int>(length)) != 1) {
    throw_openssl_error("cannot compute subjectKeyIdentifier");
  }
  add_extension(cert, NID_subject_key_identifier, identifier.get(), false);
}

void add_authority_key_identifier(X509* cert, X509* issuer) {
  const ASN1_OCTET_STRING* issuer_identifier = X509_get0_subject_key_id(issuer);
  if (issuer_identifier == nullptr) return;
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  if (!authority) throw_openssl_error("cannot allocate authorityKeyIdentifier");
  authority->keyid = ASN1_OCTET_STRING_dup(issuer_identifier);  // owned by `authority` from here
  if (authority->keyid == nullptr) throw_openssl_error("cannot copy the issuer key identifier");
  add_extension(cert, NID_authority_key_identifier, authority.get(), false);
}

void sign_certificate(X509* cert, EVP_PKEY* signing_key) {
  int default_digest = NID_undef;
  const bool digest_is_builtin =
      EVP_PKEY_get_default_digest_nid(signing_key, &default_digest) == 2 &&
      default_digest == NID_undef;
  const EVP_MD* digest = digest_is_builtin ? nullptr : EVP_sha256();
  if (X509_sign(cert, signing_key, digest) <= 0) throw_openssl_error("cannot sign certificate");
}

}  // namespace pt::ca
