#pragma once
// PEM text <-> OpenSSL objects, for the CA files on disk and the certificate served at /ca.crt.
#include "ca/openssl_ptr.hpp"

#include <string>
#include <string_view>

namespace pt::ca {

// Return nullptr when the text is not a valid PEM object of the expected kind; the reason is left
// on the OpenSSL error queue for openssl_error_string(), so callers can name the file in the error.
X509Ptr certificate_from_pem(std::string_view pem);
// Reads a plain or passphrase-encrypted key, PKCS#8 or "traditional" (BEGIN RSA PRIVATE KEY with
// DEK-Info). Never prompts on a terminal, even when the key is encrypted and the passphrase wrong.
EvpPkeyPtr private_key_from_pem(std::string_view pem, const std::string& passphrase);

// Throw std::runtime_error on failure (memory exhaustion only).
std::string certificate_to_pem(X509* cert);
std::string private_key_to_pem(EVP_PKEY* key);  // unencrypted PKCS#8

}  // namespace pt::ca
