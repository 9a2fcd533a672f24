#include "ca/root_ca.hpp"

#include "ca_test_support.hpp"

#include "ca/leaf_minter.hpp"

#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

using pt::ca::RootCa;
using pt::ca::test::TempDir;
namespace fs = std::filesystem;

namespace {

unsigned file_mode(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

bool extension_is_critical(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  REQUIRE(index >= 0);
  return X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

// Whole days from now to `time`.
int days_from_now(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, nullptr, time) == 1);
  return days;
}

void write_text(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The message of the std::runtime_error that loading `dir` throws.
std::string load_error(const fs::path& dir, std::string_view passphrase = RootCa::rpardini_key_passphrase) {
  try {
    RootCa::load_or_create(dir, passphrase);
  } catch (const std::runtime_error& e) {
    CHECK(ERR_peek_error() == 0);  // the message took the whole error queue with it
    return e.what();
  }
  FAIL("load_or_create succeeded");
  return {};
}

// Everything about the tree under `dir` (and `dir` itself) that creating, writing, renaming,
// removing or chmod-ing anything in it would change: each entry's type, mode, size, mtime and
// ctime (lstat: a symlink itself, not its target), and each regular file's bytes. Permission bits
// do not stop root, and the tests may run as root, so this is what proves "nothing was written".
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  const auto record = [&](const fs::path& path) {
    struct stat info {};
    REQUIRE(::lstat(path.c_str(), &info) == 0);
    std::ostringstream text;
    text << std::oct << info.st_mode << std::dec << " size " << info.st_size << " mtime "
         << info.st_mtim.tv_sec << "." << info.st_mtim.tv_nsec << " ctime " << info.st_ctim.tv_sec << "."
         << info.st_ctim.tv_nsec;
    if (S_ISREG(info.st_mode)) text << " contents " << pt::ca::read_whole_file(path);
    if (S_ISLNK(info.st_mode)) text << " -> " << fs::read_symlink(path).string();
    entries[fs::relative(path, dir).string()] = text.str();
  };
  record(dir);
  for (const auto& entry : fs::recursive_directory_iterator(dir)) record(entry.path());
  return entries;
}

// Gives the owner back write access to `dir` and what is under it, so TempDir can remove them
// even when a check failed midway.
struct MakeWritableOnExit {
  fs::path dir;
  ~MakeWritableOnExit() {
    std::error_code ignored;
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ignored);
    for (const auto& entry : fs::recursive_directory_iterator(dir, ignored)) {
      if (!entry.is_symlink(ignored)) fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add, ignored);
    }
  }
};

}  // namespace

TEST_CASE("A created root is a P-256 CA with the right extensions, stored privately") {
  TempDir temp;
  const auto dir = temp.path() / "new" / "ca";
  const auto root = RootCa::load_or_create(dir);

  CHECK(root.created());
  CHECK(file_mode(dir) == 0755);
  CHECK(file_mode(dir / "ca.key") == 0600);
  CHECK(file_mode(dir / "ca.crt") == 0644);
  CHECK(pt::ca::read_whole_file(dir / "ca.crt") == root.cert_pem());
  // No temporary files left behind.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 2);

  X509* cert = root.cert();
  CHECK(X509_check_ca(cert) == 1);
  CHECK(X509_check_private_key(cert, root.key()) == 1);
  CHECK(X509_verify(cert, root.key()) == 1);  // self-signed
  CHECK(X509_get_version(cert) == X509_VERSION_3);
  CHECK(X509_get_key_usage(cert) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(extension_is_critical(cert, NID_basic_constraints));
  CHECK(extension_is_critical(cert, NID_key_usage));
  CHECK(X509_get0_subject_key_id(cert) != nullptr);

  CHECK(EVP_PKEY_is_a(root.key(), "EC"));
  char group[64] = {};
  REQUIRE(EVP_PKEY_get_group_name(root.key(), group, sizeof group, nullptr) == 1);
  CHECK(std::string(group) == "prime256v1");

  CHECK(root.subject().find("O=pullthrough") != std::string::npos);
  CHECK(root.subject().find("CN=pullthrough CA ") != std::string::npos);
  CHECK(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0);

  const int lifetime_days = days_from_now(X509_get0_notAfter(cert));
  CHECK(lifetime_days >= 3649);
  CHECK(lifetime_days <= 3650);
  CHECK(days_from_now(X509_get0_notBefore(cert)) == -1);

  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  pt::ca::BignumPtr serial_number(ASN1_INTEGER_to_BN(serial, nullptr));
  CHECK_FALSE(BN_is_negative(serial_number.get()));
  CHECK(BN_num_bits(serial_number.get()) > 64);

  const auto fingerprint = root.fingerprint_sha256();
  CHECK(fingerprint.size() == 32 * 3 - 1);
  CHECK(fingerprint[2] == ':');
}

TEST_CASE("Reloading a directory gives back the same root") {
  TempDir temp;
  const auto first = RootCa::load_or_create(temp.path());
  const auto second = RootCa::load_or_create(temp.path());
  CHECK(ERR_peek_error() == 0);
  CHECK(first.created());
  CHECK_FALSE(second.created());
  CHECK(second.fingerprint_sha256() == first.fingerprint_sha256());
  CHECK(second.subject() == first.subject());
  CHECK(second.cert_pem() == first.cert_pem());
}

TEST_CASE("An rpardini/docker-registry-proxy CA with an encrypted RSA key loads") {
  const auto format = GENERATE(pt::ca::test::KeyPem::traditional, pt::ca::test::KeyPem::pkcs8);
  TempDir temp;
  pt::ca::test::write_rpardini_style_ca(temp.path(), format);

  const auto root = RootCa::load_or_create(temp.path());
  CHECK_FALSE(root.created());
  // Nothing left on this thread's error queue for Asio's TLS code to misread later.
  CHECK(ERR_peek_error() == 0);
  CHECK(EVP_PKEY_is_a(root.key(), "RSA"));
  CHECK(root.subject().find("CN=DockerMirrorBox CA Root test") != std::string::npos);
  // Loading never rewrites the user's files.
  CHECK(pt::ca::read_whole_file(temp.path() / "ca.crt") == root.cert_pem());

  SECTION("and signs leaves") {
    const auto leaf = pt::ca::mint_leaf(root, "registry.test");
    CHECK(X509_verify(leaf.cert.get(), root.key()) == 1);
  }
  SECTION("with a custom passphrase") {
    TempDir other;
    pt::ca::test::write_rpardini_style_ca(other.path(), format, std::chrono::days(1300), "s3cret");
    CHECK_FALSE(RootCa::load_or_create(other.path(), "s3cret").created());
  }
  SECTION("but not with the wrong passphrase") {
    const auto message = load_error(temp.path(), "wrong");
    CHECK_THAT(message, Catch::Contains((temp.path() / "ca.key").string()));
    CHECK_THAT(message, Catch::Contains("passphrase"));
  }
}

TEST_CASE("Bad CA files are fatal errors that name the path") {
  TempDir temp;
  const auto dir = temp.path();
  const auto cert_path = (dir / "ca.crt").string();
  const auto key_path = (dir / "ca.key").string();
  RootCa::load_or_create(dir);

  SECTION("garbage certificate") {
    write_text(dir / "ca.crt", "not a certificate\n");
    CHECK_THAT(load_error(dir), Catch::Contains(cert_path) && Catch::Contains("CA certificate"));
  }
  SECTION("garbage key") {
    write_text(dir / "ca.key", "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
    CHECK_THAT(load_error(dir), Catch::Contains(key_path) && Catch::Contains("private key"));
  }
  SECTION("empty key") {
    write_text(dir / "ca.key", "");
    CHECK_THAT(load_error(dir), Catch::Contains(key_path));
  }
  SECTION("key of another CA") {
    TempDir other;
    RootCa::load_or_create(other.path());
    fs::copy_file(other.path() / "ca.key", dir / "ca.key", fs::copy_options::overwrite_existing);
    CHECK_THAT(load_error(dir), Catch::Contains(key_path) && Catch::Contains(cert_path) &&
                                    Catch::Contains("does not belong"));
  }
  SECTION("certificate without its key") {
    fs::remove(dir / "ca.key");
    CHECK_THAT(load_error(dir), Catch::Contains(cert_path) && Catch::Contains(key_path));
    CHECK_FALSE(fs::exists(dir / "ca.key"));  // never generated over half a CA
  }
  SECTION("key without its certificate") {
    fs::remove(dir / "ca.crt");
    CHECK_THAT(load_error(dir), Catch::Contains(cert_path) && Catch::Contains(key_path));
  }
  SECTION("a certificate that is not a CA") {
    const auto leaf = pt::ca::mint_leaf(pt::ca::test::shared_test_root(), "not-a-ca.test");
    write_text(dir / "ca.crt", pt::ca::certificate_to_pem(leaf.cert.get()));
    write_text(dir / "ca.key", pt::ca::private_key_to_pem(leaf.key.get()));
    CHECK_THAT(load_error(dir), Catch::Contains(cert_path) && Catch::Contains("not a CA"));
  }
  SECTION("an expired CA") {
    TempDir expired;
    pt::ca::test::write_rpardini_style_ca(expired.path(), pt::ca::test::KeyPem::pkcs8, std::chrono::days(-1));
    CHECK_THAT(load_error(expired.path()), Catch::Contains("expired") &&
                                               Catch::Contains((expired.path() / "ca.crt").string()));
  }
}

TEST_CASE("An unusable CA directory is a fatal error that names it") {
  TempDir temp;
  write_text(temp.path() / "file", "x");
  const auto below_a_file = temp.path() / "file" / "ca";
  CHECK_THAT(load_error(below_a_file), Catch::Contains(below_a_file.string()));

  // Root ignores permission bits, so this half only means something for other users.
  if (::geteuid() != 0) {
    const auto read_only = temp.path() / "read-only";
    fs::create_directory(read_only);
    fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_THAT(load_error(read_only), Catch::Contains(read_only.string()));
    fs::permissions(read_only, fs::perms::owner_all);
  }
}

TEST_CASE("A read-only CA directory, as a Kubernetes Secret mounts it, loads without a single write") {
  // How a Secret volume looks: the files in a timestamped directory, "..data" pointing to it, and
  // the names the pod sees as symlinks through "..data"; all of it read-only.
  enum class Layout { plain_files, kubernetes_secret };
  const auto layout = GENERATE(Layout::plain_files, Layout::kubernetes_secret);
  TempDir temp;
  const auto original = RootCa::load_or_create(temp.path() / "source");

  const auto dir = temp.path() / "ca";
  const MakeWritableOnExit restore{dir};
  fs::create_directory(dir);
  const auto files_dir = layout == Layout::plain_files ? dir : dir / "..2024_01_01_00_00_00.000000001";
  fs::create_directories(files_dir);
  for (const auto name : {RootCa::cert_file_name, RootCa::key_file_name}) {
    fs::copy_file(temp.path() / "source" / name, files_dir / name);
    fs::permissions(files_dir / name, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  }
  if (layout == Layout::kubernetes_secret) {
    fs::create_directory_symlink(files_dir.filename(), dir / "..data");
    for (const auto name : {RootCa::cert_file_name, RootCa::key_file_name}) {
      fs::create_symlink(fs::path("..data") / name, dir / name);
    }
    fs::permissions(files_dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const auto before = snapshot(dir);

  const auto root = RootCa::load_or_create(dir);
  CHECK_FALSE(root.created());
  CHECK(root.fingerprint_sha256() == original.fingerprint_sha256());
  CHECK(ERR_peek_error() == 0);

  // Nothing written, created (not even a temporary file since removed: the directory's mtime
  // would show it), renamed or chmod-ed.
  CHECK(snapshot(dir) == before);
  CHECK(file_mode(dir) == 0555);
  CHECK(file_mode(files_dir / RootCa::key_file_name) == 0444);
}
