#include "ca/leaf_context_cache.hpp"

#include "ca_test_support.hpp"

#include "ca/server_tls_context.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using pt::ca::LeafContextCache;
using pt::ca::test::shared_test_root;
using asio::ip::tcp;

namespace {

// Completion handler for co_spawn: a failure inside the coroutine fails the test via run().
void rethrow(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

// context_for() driven to completion on a private io_context.
std::shared_ptr<asio::ssl::context> context_now(LeafContextCache& cache, std::string host) {
  std::shared_ptr<asio::ssl::context> context;
  asio::io_context io;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { context = co_await cache.context_for(host); }, rethrow);
  io.run();
  return context;
}

using SessionPtr = pt::ca::OpenSslPtr<SSL_SESSION, SSL_SESSION_free>;

struct Handshake {
  std::string alpn;  // what the client sees as negotiated; empty for none
  long verify_result = -1;
  bool resumed = false;
  SessionPtr session;
};

// A client that trusts only the root, sends SNI and checks the host name, meets a server that got
// its context from `cache`, over a real loopback TCP connection.
Handshake handshake(LeafContextCache& cache, asio::ssl::context& client_context, const std::string& host,
                    std::string_view client_alpn, SSL_SESSION* resume = nullptr) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  Handshake result;

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    auto context = co_await cache.context_for(host);
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *context);
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    co_await asio::async_write(stream, asio::buffer("x", 1), asio::use_awaitable);
    co_await stream.async_shutdown(asio::use_awaitable);
  }, rethrow);

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    asio::ssl::stream<tcp::socket> stream(io, client_context);
    SSL* ssl = stream.native_handle();
    REQUIRE(SSL_set_tlsext_host_name(ssl, host.c_str()) == 1);
    REQUIRE(SSL_set1_host(ssl, host.c_str()) == 1);
    REQUIRE(SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(client_alpn.data()),
                                static_cast<unsigned>(client_alpn.size())) == 0);
    if (resume != nullptr) REQUIRE(SSL_set_session(ssl, resume) == 1);
    co_await stream.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    // Reading application data also takes in TLS 1.3's post-handshake session tickets.
    char byte = 0;
    co_await asio::async_read(stream, asio::buffer(&byte, 1), asio::use_awaitable);

    const unsigned char* selected = nullptr;
    unsigned int selected_length = 0;
    SSL_get0_alpn_selected(ssl, &selected, &selected_length);
    result.alpn.assign(reinterpret_cast<const char*>(selected), selected_length);
    result.verify_result = SSL_get_verify_result(ssl);
    result.resumed = SSL_session_reused(ssl) == 1;
    result.session.reset(SSL_get1_session(ssl));
    // A session stays resumable only if the connection is closed cleanly.
    co_await stream.async_shutdown(asio::use_awaitable);
  }, rethrow);

  io.run();
  return result;
}

asio::ssl::context client_context_trusting(const pt::ca::RootCa& root) {
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.add_certificate_authority(asio::buffer(root.cert_pem()));
  context.set_verify_mode(asio::ssl::verify_peer);
  // Keep sessions so that tests can resume them.
  SSL_CTX_set_session_cache_mode(context.native_handle(), SSL_SESS_CACHE_CLIENT);
  return context;
}

constexpr std::string_view offers_h2_and_http_1_1{"\x02h2\x08http/1.1", 12};
constexpr std::string_view offers_h2_only{"\x02h2", 3};

}  // namespace

TEST_CASE("Concurrent requests for one host from two threads mint once") {
  asio::thread_pool pool(2);
  LeafContextCache cache(shared_test_root(), pool);
  asio::io_context a;
  asio::io_context b;
  std::mutex mutex;
  std::set<asio::ssl::context*> contexts;
  int answered = 0;

  auto ask = [&]() -> asio::awaitable<void> {
    auto context = co_await cache.context_for("registry.test");
    std::lock_guard lock(mutex);
    contexts.insert(context.get());
    ++answered;
  };
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(a, ask(), rethrow);
    asio::co_spawn(b, ask(), rethrow);
  }
  std::thread thread_a([&] { a.run(); });
  std::thread thread_b([&] { b.run(); });
  thread_a.join();
  thread_b.join();

  CHECK(answered == 20);
  CHECK(contexts.size() == 1);
  CHECK(cache.mint_count() == 1);
  CHECK(cache.size() == 1);
  pool.join();
}

TEST_CASE("Host names are cache keys regardless of case and IPv6 brackets") {
  asio::thread_pool pool(1);
  LeafContextCache cache(shared_test_root(), pool);
  CHECK(context_now(cache, "Registry.TEST") == context_now(cache, "registry.test"));
  CHECK(context_now(cache, "[::1]") == context_now(cache, "::1"));
  CHECK(cache.mint_count() == 2);
  CHECK(cache.size() == 2);
  pool.join();
}

TEST_CASE("The cache evicts the least recently used host beyond its capacity") {
  asio::thread_pool pool(1);
  LeafContextCache cache(shared_test_root(), pool, 2);
  const auto a = context_now(cache, "a.test");
  context_now(cache, "b.test");
  CHECK(context_now(cache, "a.test") == a);  // a is now more recent than b
  context_now(cache, "c.test");              // evicts b
  CHECK(cache.size() == 2);
  CHECK(cache.mint_count() == 3);

  CHECK(context_now(cache, "a.test") == a);
  CHECK(cache.mint_count() == 3);
  context_now(cache, "b.test");  // minted again
  CHECK(cache.mint_count() == 4);
  CHECK(cache.size() == 2);
  pool.join();
}

TEST_CASE("Beyond the mint rate new hosts get no context, known hosts still do") {
  asio::thread_pool pool(1);
  LeafContextCache cache(shared_test_root(), pool, 10, 2);
  const auto a = context_now(cache, "a.test");
  REQUIRE(a);
  REQUIRE(context_now(cache, "b.test"));
  CHECK(context_now(cache, "c.test") == nullptr);
  CHECK(cache.size() == 2);
  CHECK(context_now(cache, "a.test") == a);
  CHECK(cache.mint_count() == 2);
  pool.join();
}

TEST_CASE("Invalid hosts are rejected before anything is cached") {
  asio::thread_pool pool(1);
  LeafContextCache cache(shared_test_root(), pool);
  CHECK_THROWS_AS(context_now(cache, "evil host\r\n"), std::invalid_argument);
  CHECK_THROWS_AS(context_now(cache, ""), std::invalid_argument);
  CHECK(cache.size() == 0);
  CHECK(cache.mint_count() == 0);
  CHECK_THROWS_AS(LeafContextCache(shared_test_root(), pool, 0), std::invalid_argument);
  pool.join();
}

TEST_CASE("A TLS client that trusts the root completes a handshake and gets http/1.1") {
  const auto& root = shared_test_root();
  asio::thread_pool pool(1);
  LeafContextCache cache(root, pool);
  auto client_context = client_context_trusting(root);

  SECTION("a client offering h2 and http/1.1 gets http/1.1") {
    const auto result = handshake(cache, client_context, "registry.test", offers_h2_and_http_1_1);
    CHECK(result.verify_result == X509_V_OK);
    CHECK(result.alpn == "http/1.1");
  }
  SECTION("a client offering only h2 gets no ALPN, not h2") {
    const auto result = handshake(cache, client_context, "registry.test", offers_h2_only);
    CHECK(result.verify_result == X509_V_OK);
    CHECK(result.alpn.empty());
  }
  SECTION("an IP host verifies too") {
    const auto result = handshake(cache, client_context, "127.0.0.1", offers_h2_and_http_1_1);
    CHECK(result.verify_result == X509_V_OK);
  }
  SECTION("a second connection resumes the session") {
    const auto version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
    INFO("TLS version " << std::hex << version);
    SSL_CTX_set_max_proto_version(client_context.native_handle(), version);
    const auto first = handshake(cache, client_context, "registry.test", offers_h2_and_http_1_1);
    REQUIRE(first.session);
    CHECK_FALSE(first.resumed);
    const auto second =
        handshake(cache, client_context, "registry.test", offers_h2_and_http_1_1, first.session.get());
    CHECK(second.resumed);
    CHECK(cache.mint_count() == 1);
  }
  pool.join();
}

TEST_CASE("The server rejects clients older than TLS 1.2") {
  asio::thread_pool pool(1);
  LeafContextCache cache(shared_test_root(), pool);
  auto client_context = client_context_trusting(shared_test_root());
  SSL_CTX_set_min_proto_version(client_context.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(client_context.native_handle(), TLS1_1_VERSION);
  CHECK_THROWS(handshake(cache, client_context, "registry.test", offers_h2_and_http_1_1));
  pool.join();
}

TEST_CASE("ALPN selection reads the client's list safely") {
  using pt::ca::select_alpn_protocol;
  CHECK(select_alpn_protocol(offers_h2_and_http_1_1) == "http/1.1");
  CHECK(select_alpn_protocol(offers_h2_only).empty());
  CHECK(select_alpn_protocol({}).empty());
  CHECK(select_alpn_protocol(std::string_view("\x09http/1.1", 9)).empty());   // length overruns
  CHECK(select_alpn_protocol(std::string_view("\x00\x08http/1.1", 10)).empty());  // empty entry
  CHECK(select_alpn_protocol(std::string_view("\x08http/1.0\x08http/1.1", 18)) == "http/1.1");
}
