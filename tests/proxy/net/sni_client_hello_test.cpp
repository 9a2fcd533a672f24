#include "proxy/net/sni_client_hello.hpp"

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

using namespace pt;
using namespace pt::net;

namespace {

// The first flight of a real OpenSSL client (TLS 1.2 and 1.3 offered), with or without SNI.
std::string real_client_hello(const char* server_name) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // owned by ssl from here
  if (server_name) SSL_set_tlsext_host_name(ssl.get(), server_name);
  SSL_connect(ssl.get());  // wants to read the ServerHello: returns -1, the hello is in `out`
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Re-frames a single-record hello into records of at most `size` payload bytes each.
std::string split_records(const std::string& hello, std::size_t size) {
  const std::string payload = hello.substr(5);
  std::string out;
  for (std::size_t at = 0; at < payload.size(); at += size) {
    const auto piece = payload.substr(at, size);
    out += hello.substr(0, 3);
    out += static_cast<char>(piece.size() >> 8);
    out += static_cast<char>(piece.size() & 0xff);
    out += piece;
  }
  return out;
}

}  // namespace

TEST_CASE("SNI of a real ClientHello") {
  const auto hello = real_client_hello("Registry.Test");
  REQUIRE(hello.size() > 50);
  const auto peek = peek_server_name(hello);
  CHECK(peek.status == SniStatus::found);
  CHECK(peek.server_name == "registry.test");
}

TEST_CASE("SNI: every proper prefix asks for more; extra bytes behind do not matter") {
  const auto hello = real_client_hello("quay.io");
  for (std::size_t n = 0; n < hello.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    REQUIRE(peek_server_name(std::string_view(hello).substr(0, n)).status == SniStatus::need_more);
  }
  CHECK(peek_server_name(hello + "trailing").server_name == "quay.io");
}

TEST_CASE("SNI: a ClientHello split over several records") {
  const auto hello = real_client_hello("registry-1.docker.io");
  const auto split = split_records(hello, 37);
  CHECK(split.size() > hello.size());
  const auto peek = peek_server_name(split);
  CHECK(peek.status == SniStatus::found);
  CHECK(peek.server_name == "registry-1.docker.io");
  CHECK(peek_server_name(std::string_view(split).substr(0, split.size() - 1)).status == SniStatus::need_more);
}

TEST_CASE("SNI: no name, not TLS, malformed") {
  CHECK(peek_server_name(real_client_hello(nullptr)).status == SniStatus::no_sni);
  CHECK(peek_server_name("GET / HTTP/1.1\r\n\r\n").status == SniStatus::not_tls);
  CHECK(peek_server_name("G").status == SniStatus::not_tls);
  CHECK(peek_server_name(std::string("\x16\x03\x01\x00\x00", 5)).status == SniStatus::malformed);    // empty record
  CHECK(peek_server_name(std::string("\x16\x03\x01\xff\xff", 5)).status == SniStatus::malformed);    // oversized record
  CHECK(peek_server_name(std::string("\x16\x04\x01\x00\x05", 5)).status == SniStatus::not_tls);      // not TLS 1.x
  // A handshake record holding a ServerHello (type 2), not a ClientHello.
  CHECK(peek_server_name(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9)).status == SniStatus::malformed);
  // A ClientHello too short for its fixed fields.
  CHECK(peek_server_name(std::string("\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03", 11)).status ==
        SniStatus::malformed);
  // A ClientHello declaring more than the bound.
  CHECK(peek_server_name(std::string("\x16\x03\x01\x00\x04\x01\x01\x00\x00", 9)).status == SniStatus::malformed);
}

TEST_CASE("SNI: corrupting any byte never crashes and never yields a bogus name") {
  const auto hello = real_client_hello("registry.test");
  for (std::size_t i = 0; i < hello.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      auto bad = hello;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      const auto peek = peek_server_name(bad);
      if (peek.status == SniStatus::found) {
        // The name's own bytes may change into another valid name; anything else is rejected.
        CHECK(peek.server_name.size() == std::string("registry.test").size());
      }
    }
  }
}
