#include "ca/x509_builder.hpp"

#include "ca/openssl_error.hpp"

#include <openssl/rand.h>

#include <array>
#include <string>

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

namespace {

using std::chrono::days;
using std::chrono::system_clock;

constexpr days end_entity_lifetime{365};
constexpr days backdating{1};
// X.520's upper bound for commonName; OpenSSL rejects longer values.
constexpr std::size_t max_common_name = 64;

GeneralNamePtr dns_name(const std::string& name) {
  GeneralNamePtr general_name(GENERAL_NAME_new());
  Asn1Ia5StringPtr text(ASN1_IA5STRING_new());
  if (!general_name || !text ||
      ASN1_STRING_set(text.get(), name.data(), static_cast<int>(name.size())) != 1) {
    throw_openssl_error("cannot build a DNS subjectAltName");
  }
  GENERAL_NAME_set0_value(general_name.get(), GEN_DNS, text.release());
  return general_name;
}

GeneralNamePtr ip_address(const asio::ip::address& address) {
  GeneralNamePtr general_name(GENERAL_NAME_new());
  Asn1OctetStringPtr octets(ASN1_OCTET_STRING_new());
  const bool stored = [&] {
    if (!general_name || !octets) return false;
    if (address.is_v4()) {
      const auto bytes = address.to_v4().to_bytes();
      return ASN1_OCTET_STRING_set(octets.get(), bytes.data(), static_cast<int>(bytes.size())) == 1;
    }
    const auto bytes = address.to_v6().to_bytes();
    return ASN1_OCTET_STRING_set(octets.get(), bytes.data(), static_cast<int>(bytes.size())) == 1;
  }();
  if (!stored) throw_openssl_error("cannot build an IP subjectAltName");
  GENERAL_NAME_set0_value(general_name.get(), GEN_IPADD, octets.release());
  return general_name;
}

void add_subject_alt_name(X509* cert, const CertHost& host) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) throw_openssl_error("cannot allocate subjectAltName");
  auto name = host.kind == CertHost::Kind::ip ? ip_address(host.address) : dns_name(host.name);
  if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) throw_openssl_error("cannot add subjectAltName");
  name.release();  // now owned by `names`
  add_extension(cert, NID_subject_alt_name, names.get(), false);
}

void add_extended_key_usage(X509* cert, std::initializer_list<const ASN1_OBJECT*> purposes) {
  ExtendedKeyUsagePtr usage(EXTENDED_KEY_USAGE_new());
  if (!usage) throw_openssl_error("cannot allocate extendedKeyUsage");
  for (const ASN1_OBJECT* purpose : purposes) {
    // OBJ_dup hands back OpenSSL's static objects (OBJ_nid2obj's) as they are, and freeing those
    // is a no-op, so `usage` may own a mix of static and allocated objects.
    ASN1_OBJECT* copy = OBJ_dup(purpose);
    if (copy == nullptr || sk_ASN1_OBJECT_push(usage.get(), copy) == 0) {
      ASN1_OBJECT_free(copy);
      throw_openssl_error("cannot build extendedKeyUsage");
    }
  }
  add_extension(cert, NID_ext_key_usage, usage.get(), false);
}

void set_common_name(X509* cert, std::string_view common_name) {
  common_name = common_name.substr(0, max_common_name);
  X509_NAME* subject = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    throw_openssl_error("cannot set the certificate subject");
  }
}

void set_end_entity_validity(X509* cert, X509* issuer) {
  const auto now = system_clock::now();
  set_validity(cert, now - backdating, now + end_entity_lifetime);
  // A certificate that outlives its issuer fails validation after the issuer expires anyway;
  // capping it makes the certificate state the truth.
  if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(issuer)) > 0 &&
      X509_set1_notAfter(cert, X509_get0_notAfter(issuer)) != 1) {
    throw_openssl_error("cannot cap the certificate validity");
  }
}

}  // namespace

X509Ptr issue_host_certificate(X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* subject_key,
                               const CertHost& host, std::string_view common_name,
                               std::initializer_list<const ASN1_OBJECT*> purposes) {
  X509Ptr cert = new_certificate(subject_key);
  set_common_name(cert.get(), common_name);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    throw_openssl_error("cannot set the certificate issuer");
  }
  set_end_entity_validity(cert.get(), issuer);
  add_basic_constraints(cert.get(), false);
  // digitalSignature alone suffices: the key is EC, so TLS only ever signs with it (ECDHE), and
  // never uses it for RSA key transport (keyEncipherment).
  add_key_usage(cert.get(), {key_usage::digital_signature});
  add_extended_key_usage(cert.get(), purposes);
  add_subject_alt_name(cert.get(), host);
  add_subject_key_identifier(cert.get());
  add_authority_key_identifier(cert.get(), issuer);
  sign_certificate(cert.get(), issuer_key);
  return cert;
}

}  // namespace pt::ca
