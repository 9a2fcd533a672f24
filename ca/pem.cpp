#include "ca/pem.hpp"

#include "ca/openssl_error.hpp"

#include <openssl/pem.h>

#include <algorithm>

namespace pt::ca {
namespace {

BioPtr memory_bio_reading(std::string_view text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw_openssl_error("cannot allocate a memory BIO");
  return bio;
}

BioPtr empty_memory_bio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) throw_openssl_error("cannot allocate a memory BIO");
  return bio;
}

std::string contents_of(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// Supplies the passphrase to OpenSSL. Without a callback, OpenSSL would fall back to prompting on
// the controlling terminal, which would hang a daemon.
int supply_passphrase(char* buffer, int size, int /*rwflag*/, void* user_data) {
  const auto& passphrase = *static_cast<const std::string*>(user_data);
  const int length = std::min(size, static_cast<int>(passphrase.size()));
  std::copy_n(passphrase.data(), length, buffer);
  return length;
}

}  // namespace

X509Ptr certificate_from_pem(std::string_view pem) {
  auto bio = memory_bio_reading(pem);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

EvpPkeyPtr private_key_from_pem(std::string_view pem, const std::string& passphrase) {
  auto bio = memory_bio_reading(pem);
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, supply_passphrase,
                                            const_cast<std::string*>(&passphrase)));
}

std::string certificate_to_pem(X509* cert) {
  auto bio = empty_memory_bio();
  if (PEM_write_bio_X509(bio.get(), cert) != 1) throw_openssl_error("cannot encode certificate");
  return contents_of(bio.get());
}

std::string private_key_to_pem(EVP_PKEY* key) {
  auto bio = empty_memory_bio();
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw_openssl_error("cannot encode private key");
  }
  return contents_of(bio.get());
}

}  // namespace pt::ca
