#include "ca/leaf_minter.hpp"

#include "ca_test_support.hpp"

#include <openssl/err.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>
#include <stdexcept>

using pt::ca::mint_leaf;
using pt::ca::RootCa;
using pt::ca::test::shared_test_root;

namespace {

enum class Expect { dns, ip };

// Verifies `leaf` the way a TLS client does: against a store that trusts only `root`, for the
// sslserver purpose, matching `name` as a host name or an IP address. Returns the X509_V_* code.
int verify_leaf(const RootCa& root, X509* leaf, const std::string& name, Expect kind) {
  pt::ca::X509StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), root.cert()) == 1);
  pt::ca::X509StoreCtxPtr context(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr) == 1);
  REQUIRE(X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER) == 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
  if (kind == Expect::dns) {
    REQUIRE(X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0) == 1);
  } else {
    REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1);
  }
  const int verified = X509_verify_cert(context.get());
  const int error = X509_STORE_CTX_get_error(context.get());
  CHECK((verified == 1) == (error == X509_V_OK));
  return error;
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

std::vector<int> subject_alt_name_types(X509* cert) {
  pt::ca::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<int> types;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    types.push_back(sk_GENERAL_NAME_value(names.get(), i)->type);
  }
  return types;
}

}  // namespace

TEST_CASE("A DNS leaf verifies against the root for its host only") {
  const auto& root = shared_test_root();
  const auto leaf = mint_leaf(root, "Registry.Test");
  X509* cert = leaf.cert.get();

  CHECK(verify_leaf(root, cert, "registry.test", Expect::dns) == X509_V_OK);
  CHECK(verify_leaf(root, cert, "REGISTRY.test", Expect::dns) == X509_V_OK);
  CHECK(verify_leaf(root, cert, "other.test", Expect::dns) == X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(subject_alt_name_types(cert) == std::vector<int>{GEN_DNS});
  CHECK(common_name(cert) == "registry.test");
}

TEST_CASE("IP leaves carry an IP subjectAltName") {
  const auto& root = shared_test_root();
  const auto v4 = mint_leaf(root, "127.0.0.1");
  CHECK(verify_leaf(root, v4.cert.get(), "127.0.0.1", Expect::ip) == X509_V_OK);
  CHECK(verify_leaf(root, v4.cert.get(), "127.0.0.2", Expect::ip) == X509_V_ERR_IP_ADDRESS_MISMATCH);
  CHECK(subject_alt_name_types(v4.cert.get()) == std::vector<int>{GEN_IPADD});

  const auto v6 = mint_leaf(root, "[::1]");
  CHECK(verify_leaf(root, v6.cert.get(), "::1", Expect::ip) == X509_V_OK);
  CHECK(subject_alt_name_types(v6.cert.get()) == std::vector<int>{GEN_IPADD});
  CHECK(common_name(v6.cert.get()) == "::1");
}

TEST_CASE("A leaf has the extensions of a TLS server certificate") {
  const auto& root = shared_test_root();
  const auto leaf = mint_leaf(root, "registry.test");
  X509* cert = leaf.cert.get();
  CHECK(ERR_peek_error() == 0);

  CHECK(X509_check_ca(cert) == 0);
  CHECK(X509_get_extension_flags(cert) & EXFLAG_BCONS);  // basicConstraints present, CA:FALSE
  CHECK(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_SERVER);
  REQUIRE(X509_get0_subject_key_id(cert) != nullptr);
  REQUIRE(X509_get0_authority_key_id(cert) != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(root.cert())) == 0);
  CHECK(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(root.cert())) == 0);
  CHECK(X509_check_private_key(cert, leaf.key.get()) == 1);
  CHECK(EVP_PKEY_is_a(leaf.key.get(), "EC"));
  CHECK(X509_get_signature_nid(cert) == NID_ecdsa_with_SHA256);
}

TEST_CASE("A leaf is valid from a day ago for 365 days, with a fresh random serial") {
  const auto& root = shared_test_root();
  const std::time_t now = std::time(nullptr);
  const auto first = mint_leaf(root, "registry.test");
  const auto second = mint_leaf(root, "registry.test");

  CHECK(std::llabs(seconds_off(X509_get0_notBefore(first.cert.get()), now - 86400)) <= 60);
  CHECK(std::llabs(seconds_off(X509_get0_notAfter(first.cert.get()), now + 365 * 86400)) <= 60);

  const ASN1_INTEGER* serial = X509_get0_serialNumber(first.cert.get());
  pt::ca::BignumPtr number(ASN1_INTEGER_to_BN(serial, nullptr));
  CHECK_FALSE(BN_is_negative(number.get()));
  CHECK(BN_num_bits(number.get()) > 64);
  CHECK(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(second.cert.get())) != 0);
}

TEST_CASE("A leaf never outlives its root") {
  pt::ca::test::TempDir temp;
  pt::ca::test::write_rpardini_style_ca(temp.path(), pt::ca::test::KeyPem::pkcs8, std::chrono::days(100));
  const auto root = RootCa::load_or_create(temp.path());
  const auto leaf = mint_leaf(root, "registry.test");
  CHECK(ASN1_TIME_compare(X509_get0_notAfter(leaf.cert.get()), X509_get0_notAfter(root.cert())) == 0);
  CHECK(X509_get_signature_nid(leaf.cert.get()) == NID_sha256WithRSAEncryption);
  CHECK(verify_leaf(root, leaf.cert.get(), "registry.test", Expect::dns) == X509_V_OK);
}

TEST_CASE("A long host name is cut in the CN but whole in the SAN") {
  const auto& root = shared_test_root();
  const std::string host = std::string(60, 'a') + "." + std::string(60, 'b') + ".test";
  const auto leaf = mint_leaf(root, host);
  CHECK(common_name(leaf.cert.get()) == host.substr(0, 64));
  CHECK(verify_leaf(root, leaf.cert.get(), host, Expect::dns) == X509_V_OK);
}

TEST_CASE("Invalid host names never reach OpenSSL") {
  const auto& root = shared_test_root();
  for (const std::string host : {"", "bad host", "a..b", "evil\r\nhost", "x/y", "[1.2.3.4]"}) {
    INFO("host: " << host);
    CHECK_THROWS_AS(mint_leaf(root, host), std::invalid_argument);
  }
  CHECK_THROWS_AS(mint_leaf(root, std::string(254, 'a')), std::invalid_argument);
}
