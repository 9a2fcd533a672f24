#include "ca/root_ca.hpp"

#include "ca/file_io.hpp"
#include "ca/openssl_error.hpp"
#include "ca/pem.hpp"
#include "ca/x509_builder.hpp"

#include <openssl/crypto.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/std.h>

#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace pt::ca {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;
using std::chrono::system_clock;

constexpr days root_lifetime{3650};
// Backdating tolerates clients whose clocks run behind ours.
constexpr days backdating{1};
// X.520's upper bound for commonName; OpenSSL rejects longer values.
constexpr std::size_t max_common_name = 64;

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "unknown-host";
  return name.data();
}

// The host name and creation time tell apart the roots of different proxies (or of one proxy
// before and after its volume was lost) in a client's trust store.
std::string new_root_common_name() {
  const auto now_utc = fmt::gmtime(system_clock::to_time_t(system_clock::now()));
  auto name = fmt::format("pullthrough CA {} {:%Y-%m-%d %H:%M}", host_name(), now_utc);
  if (name.size() > max_common_name) name.resize(max_common_name);
  return name;
}

void add_name_entry(X509_NAME* name, int nid, std::string_view value) {
  if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    throw_openssl_error(fmt::format("cannot add {} to the CA subject", OBJ_nid2sn(nid)));
  }
}

// Runs one of OpenSSL's print functions into memory; nullopt if it fails.
template <class Print>
std::optional<std::string> print_to_string(Print print) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !print(bio.get())) return std::nullopt;
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string format_asn1_time(const ASN1_TIME* time) {
  return print_to_string([&](BIO* bio) { return ASN1_TIME_print(bio, time) == 1; })
      .value_or("an unreadable date");
}

// Keeps a copy of the private key PEM from lingering in freed memory.
struct CleansedString {
  std::string text;
  ~CleansedString() { OPENSSL_cleanse(text.data(), text.size()); }
};

void ensure_ca_directory(const fs::path& dir) {
  std::error_code error;
  if (fs::is_directory(dir, error)) return;
  fs::create_directories(dir, error);
  if (error) throw std::runtime_error(fmt::format("cannot create CA directory {}: {}", dir, error.message()));
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec, error);
  if (error) throw std::runtime_error(fmt::format("cannot set the mode of {}: {}", dir, error.message()));
}

}  // namespace

RootCa::RootCa(X509Ptr cert, EvpPkeyPtr key, bool created)
    : cert_(std::move(cert)), key_(std::move(key)), cert_pem_(certificate_to_pem(cert_.get())),
      created_(created) {}

RootCa RootCa::load_or_create(const fs::path& dir, std::string_view key_passphrase) {
  const auto cert_path = dir / cert_file_name;
  const auto key_path = dir / key_file_name;
  std::error_code error;
  const bool have_cert = fs::exists(cert_path, error);
  const bool have_key = fs::exists(key_path, error);
  if (have_cert && have_key) return load(cert_path, key_path, key_passphrase);
  // Never generate over half a CA: the remaining file may be the user's only copy.
  if (have_cert != have_key) {
    throw std::runtime_error(fmt::format(
        "{} exists but {} does not; provide both files, or remove the other to create a new CA",
        have_cert ? cert_path : key_path, have_cert ? key_path : cert_path));
  }
  return create(dir);
}

RootCa RootCa::load(const fs::path& cert_path, const fs::path& key_path,
                    std::string_view key_passphrase) {
  X509Ptr cert = certificate_from_pem(read_whole_file(cert_path));
  if (!cert) {
    throw std::runtime_error(fmt::format("cannot read the CA certificate {}: {}", cert_path,
                                         openssl_error_string()));
  }
  const CleansedString key_pem{read_whole_file(key_path)};
  EvpPkeyPtr key = private_key_from_pem(key_pem.text, std::string(key_passphrase));
  if (!key) {
    throw std::runtime_error(fmt::format(
        "cannot read the CA private key {} (if it is encrypted, is the passphrase right?): {}",
        key_path, openssl_error_string()));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    throw std::runtime_error(fmt::format("the CA private key {} does not belong to the certificate {}: {}",
                                         key_path, cert_path, openssl_error_string()));
  }
  // 1 means basicConstraints CA:TRUE and, if keyUsage is present, keyCertSign: what clients demand
  // of an issuer.
  if (X509_check_ca(cert.get()) != 1) {
    throw std::runtime_error(fmt::format(
        "{} is not a CA certificate: it needs basicConstraints CA:TRUE and, if it has keyUsage, "
        "keyCertSign", cert_path));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    throw std::runtime_error(fmt::format(
        "the CA certificate {} expired on {}; remove {} and {} to create a new CA", cert_path,
        format_asn1_time(X509_get0_notAfter(cert.get())), cert_path, key_path));
  }
  return RootCa(std::move(cert), std::move(key), false);
}

RootCa RootCa::create(const fs::path& dir) {
  ensure_ca_directory(dir);

  EvpPkeyPtr key = generate_p256_key();
  X509Ptr cert = new_certificate(key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  add_name_entry(subject, NID_organizationName, "pullthrough");
  add_name_entry(subject, NID_commonName, new_root_common_name());
  if (X509_set_issuer_name(cert.get(), subject) != 1) throw_openssl_error("cannot set CA issuer");

  const auto now = system_clock::now();
  set_validity(cert.get(), now - backdating, now + root_lifetime);
  add_basic_constraints(cert.get(), true);
  add_key_usage(cert.get(), {key_usage::key_cert_sign, key_usage::crl_sign});
  add_subject_key_identifier(cert.get());
  sign_certificate(cert.get(), key.get());

  // The key first: a crash in between leaves a lone ca.key, which the next start reports instead
  // of silently replacing.
  const CleansedString key_pem{private_key_to_pem(key.get())};
  write_file_atomically(dir / key_file_name, key_pem.text, 0600);
  write_file_atomically(dir / cert_file_name, certificate_to_pem(cert.get()), 0644);
  return RootCa(std::move(cert), std::move(key), true);
}

std::string RootCa::subject() const {
  auto text = print_to_string([&](BIO* bio) {
    return X509_NAME_print_ex(bio, X509_get_subject_name(cert_.get()), 0, XN_FLAG_RFC2253) >= 0;
  });
  if (!text) throw_openssl_error("cannot print the CA subject");
  return std::move(*text);
}

std::string RootCa::fingerprint_sha256() const {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (X509_digest(cert_.get(), EVP_sha256(), digest.data(), &length) != 1) {
    throw_openssl_error("cannot compute the CA fingerprint");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    if (i != 0) hex += ':';
    hex += fmt::format("{:02X}", digest[i]);
  }
  return hex;
}

}  // namespace pt::ca
