#include "ca/leaf_minter.hpp"

#include "ca/openssl_error.hpp"
#include "ca/x509_builder.hpp"

#include <chrono>

namespace pt::ca {
namespace {

using std::chrono::days;
using std::chrono::system_clock;

constexpr days leaf_lifetime{365};
constexpr days backdating{1};
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

void add_server_auth_usage(X509* cert) {
  ExtendedKeyUsagePtr usage(EXTENDED_KEY_USAGE_new());
  // OBJ_nid2obj returns a static object, so `usage` may "free" it harmlessly.
  if (!usage || sk_ASN1_OBJECT_push(usage.get(), OBJ_nid2obj(NID_server_auth)) == 0) {
    throw_openssl_error("cannot build extendedKeyUsage");
  }
  add_extension(cert, NID_ext_key_usage, usage.get(), false);
}

void set_subject(X509* cert, const CertHost& host) {
  const std::string_view common_name = std::string_view(host.name).substr(0, max_common_name);
  X509_NAME* subject = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    throw_openssl_error("cannot set the leaf subject");
  }
}

void set_leaf_validity(X509* cert, X509* root) {
  const auto now = system_clock::now();
  set_validity(cert, now - backdating, now + leaf_lifetime);
  // A leaf that outlives its issuer fails validation after the root expires anyway; capping it
  // makes the certificate state the truth.
  if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(root)) > 0 &&
      X509_set1_notAfter(cert, X509_get0_notAfter(root)) != 1) {
    throw_openssl_error("cannot cap the leaf validity");
  }
}

}  // namespace

Leaf mint_leaf(const RootCa& root, const CertHost& host) {
  EvpPkeyPtr key = generate_p256_key();
  X509Ptr cert = new_certificate(key.get());
  set_subject(cert.get(), host);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(root.cert())) != 1) {
    throw_openssl_error("cannot set the leaf issuer");
  }
  set_leaf_validity(cert.get(), root.cert());
  add_basic_constraints(cert.get(), false);
  // digitalSignature alone suffices: the key is EC, so TLS only ever signs with it (ECDHE), and
  // never uses it for RSA key transport (keyEncipherment).
  add_key_usage(cert.get(), {key_usage::digital_signature});
  add_server_auth_usage(cert.get());
  add_subject_alt_name(cert.get(), host);
  add_subject_key_identifier(cert.get());
  add_authority_key_identifier(cert.get(), root.cert());
  sign_certificate(cert.get(), root.key());
  return Leaf{std::move(cert), std::move(key)};
}

Leaf mint_leaf(const RootCa& root, std::string_view host) {
  return mint_leaf(root, CertHost::parse_or_throw(host));
}

}  // namespace pt::ca
