#pragma once
// Helpers shared by the ca/ unit tests: temporary directories and CA files like the ones
// rpardini/docker-registry-proxy leaves in its /ca volume.
#include "ca/file_io.hpp"
#include "ca/openssl_error.hpp"
#include "ca/openssl_ptr.hpp"
#include "ca/pem.hpp"
#include "ca/root_ca.hpp"
#include "ca/x509_builder.hpp"

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace pt::ca::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pt-ca-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

// One root for the tests that only need some CA: creating roots is cheap, but not free.
inline const RootCa& shared_test_root() {
  static const TempDir dir;
  static const RootCa root = RootCa::load_or_create(dir.path() / "ca");
  return root;
}

enum class KeyPem { traditional, pkcs8 };

// Writes ca.crt and ca.key into `dir` the way rpardini's create_ca_cert.sh does: an RSA key
// encrypted with DES-EDE3 and the passphrase "foobar", a self-signed certificate with
// C/ST/L/O/OU/CN, basicConstraints critical CA:TRUE, keyUsage critical digitalSignature, cRLSign,
// keyCertSign, and subjectKeyIdentifier. Its default lifetime is the script's 1300 days.
// `traditional` is what OpenSSL 1.1's genrsa wrote ("BEGIN RSA PRIVATE KEY" + DEK-Info), `pkcs8`
// what OpenSSL 3's writes ("BEGIN ENCRYPTED PRIVATE KEY").
inline void write_rpardini_style_ca(const std::filesystem::path& dir, KeyPem key_format,
                                    std::chrono::days lifetime = std::chrono::days(1300),
                                    std::string_view passphrase = "foobar") {
  // RSA key generation is slow, and the tests only need distinct certificates, not distinct keys.
  static const EvpPkeyPtr key(EVP_RSA_gen(2048));
  if (!key) throw_openssl_error("EVP_RSA_gen");
  X509Ptr cert = new_certificate(key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::pair<const char*, const char*> fields[] = {
      {"C", "NL"}, {"ST", "Noord Holland"}, {"L", "Amsterdam"},
      {"O", "ME"}, {"OU", "IT"},           {"CN", "DockerMirrorBox CA Root test"}};
  for (const auto& [field, value] : fields) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(value), -1, -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  const auto now = std::chrono::system_clock::now();
  set_validity(cert.get(), now, now + lifetime);
  add_basic_constraints(cert.get(), true);
  add_key_usage(cert.get(), {key_usage::digital_signature, key_usage::crl_sign, key_usage::key_cert_sign});
  add_subject_key_identifier(cert.get());
  sign_certificate(cert.get(), key.get());

  BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string pass(passphrase);
  auto* pass_bytes = reinterpret_cast<const unsigned char*>(pass.data());
  const int written =
      key_format == KeyPem::traditional
          ? PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), EVP_des_ede3_cbc(), pass_bytes,
                                                 static_cast<int>(pass.size()), nullptr, nullptr)
          : PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_des_ede3_cbc(), pass.data(),
                                          static_cast<int>(pass.size()), nullptr, nullptr);
  if (written != 1) throw_openssl_error("writing the encrypted key");
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);

  std::filesystem::create_directories(dir);
  write_file_atomically(dir / "ca.key", std::string_view(data, static_cast<std::size_t>(length)), 0600);
  write_file_atomically(dir / "ca.crt", certificate_to_pem(cert.get()), 0644);
}

}  // namespace pt::ca::test
