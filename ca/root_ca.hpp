#pragma once
// The root certificate authority that signs every leaf certificate the proxy presents.
//
// Clients trust the proxy by installing this root (served at /ca.crt), so it must survive
// restarts: it lives as two PEM files, `ca.crt` and `ca.key`, in a directory that users mount as a
// volume. That is rpardini/docker-registry-proxy's /ca layout, and its files load unchanged, so
// switching proxies does not mean redistributing a new root to every client.
#include "ca/openssl_ptr.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace pt::ca {

class RootCa {
public:
  static constexpr std::string_view cert_file_name = "ca.crt";
  static constexpr std::string_view key_file_name = "ca.key";

  // rpardini's create_ca_cert.sh encrypts its CA key with this passphrase
  // (`openssl genrsa -des3 -passout pass:foobar`).
  static constexpr std::string_view rpardini_key_passphrase = "foobar";

  // Loads `dir/ca.crt` and `dir/ca.key` if both exist; `key_passphrase` decrypts an encrypted key
  // and is ignored for a plain one. Otherwise creates a new root (EC P-256, valid for 10 years) and
  // writes it there, creating `dir` (mode 0755) if needed: the key with mode 0600, unencrypted
  // (a passphrase stored next to the key would add nothing), the certificate with mode 0644.
  //
  // Throws std::runtime_error naming the offending path when the directory cannot be created or
  // written, when only one of the two files exists, when a file is not valid PEM, when the key does
  // not belong to the certificate, when the certificate is not a CA, or when it has expired.
  static RootCa load_or_create(const std::filesystem::path& dir,
                               std::string_view key_passphrase = rpardini_key_passphrase);

  X509* cert() const noexcept { return cert_.get(); }
  EVP_PKEY* key() const noexcept { return key_.get(); }
  // The certificate in PEM, as clients download it to install it as trusted.
  const std::string& cert_pem() const noexcept { return cert_pem_; }
  // One line, RFC 2253 order: "O=pullthrough,CN=pullthrough CA host 2024-01-01 12:00".
  std::string subject() const;
  // True when this start created the root (so it is not yet trusted by any client).
  bool created() const noexcept { return created_; }
  // "AB:CD:...", the form `openssl x509 -noout -fingerprint -sha256` prints.
  std::string fingerprint_sha256() const;

private:
  RootCa(X509Ptr cert, EvpPkeyPtr key, bool created);

  static RootCa load(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                     std::string_view key_passphrase);
  static RootCa create(const std::filesystem::path& dir);

  X509Ptr cert_;
  EvpPkeyPtr key_;
  std::string cert_pem_;
  bool created_;
};

}  // namespace pt::ca
