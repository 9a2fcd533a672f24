#pragma once
// A world for pt::registry::Session unit tests: a real cache in a temporary directory, a fake
// upstream registry, and test clients, all on one io_context run by the test's own thread.
//
// The upstream is a small fake (an in-process HTTPS server answering from a script the test sets)
// because a unit test cannot start a real registry. It speaks just enough of the protocol for the
// session's cache paths: status, headers, a body sent whole or in slow pieces, keep-alive. The
// integration tests in tests/integration/ run the same paths against the real docker-registry.
//
// Everything is real sockets on loopback: the client's connection is accepted and handed to the
// Session as plain TCP (as the mirror port does over http://), and the session relays to
// https://registry.test:<fake's port>, which UPSTREAM_RESOLVE points at 127.0.0.1 and whose leaf
// certificate the test root signs.
#include "../../ca/ca_test_support.hpp"
#include "../../cache/temp_dir.hpp"
#include "../../cache/test_content.hpp"

#include "auth/access_verdicts.hpp"
#include "auth/cache_auth_mode.hpp"
#include "auth/credentials.hpp"
#include "auth/registry_matcher.hpp"
#include "ca/leaf_context_cache.hpp"
#include "cache/cache_store.hpp"
#include "cache/manifest_cache_policy.hpp"
#include "common/awaitable.hpp"
#include "common/deadline.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/tls_stream.hpp"
#include "proxy/net/upstream_tls.hpp"
#include "proxy/registry/dependencies.hpp"
#include "proxy/registry/session.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pt::registry::test {

using asio::ip::tcp;
using namespace std::chrono_literals;

// --- The fake upstream -------------------------------------------------------------------------

// The TLS server context of "registry.test", minted once from the shared test root.
inline asio::ssl::context& upstream_server_context() {
  struct Minted {
    Minted() : leaves(ca::test::shared_test_root(), pool) {
      asio::io_context io;
      asio::co_spawn(
          io, [&]() -> asio::awaitable<void> { context = co_await leaves.context_for("registry.test"); },
          [](std::exception_ptr error) {
            if (error) std::rethrow_exception(error);
          });
      io.run();
    }
    asio::thread_pool pool{1};
    ca::LeafContextCache leaves;
    std::shared_ptr<asio::ssl::context> context;
  };
  static Minted minted;
  return *minted.context;
}

// What the session asked the fake upstream.
struct UpstreamRequest {
  std::string method;
  std::string target;
  std::optional<std::string> authorization;
  std::optional<std::string> accept;
};

// Holds a response body part-way until the test opens it: lets a test act while a transfer is
// certainly in progress, with no timing guess.
class Gate {
public:
  explicit Gate(asio::io_context& io) : timer_(io, asio::steady_timer::time_point::max()) {}
  void open() {
    open_ = true;
    timer_.cancel();
  }
  bool reached() const { return reached_; }  // a transfer is waiting here (or went through)

  asio::awaitable<void> wait() {
    reached_ = true;
    while (!open_) co_await timer_.async_wait(nothrow_awaitable);
  }

private:
  asio::steady_timer timer_;
  bool open_ = false;
  bool reached_ = false;
};

// One scripted answer. A HEAD gets the same head (Content-Length of the body) without the body.
struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t piece = 0;                 // > 0: the body goes out in pieces of this size...
  std::chrono::milliseconds pause{0};    // ...with this pause before each piece after the first
  std::shared_ptr<Gate> gate;            // when set, the body stops after `gate_after` bytes until opened
  std::size_t gate_after = 0;
  bool close = false;                    // Connection: close, then close
};

class FakeUpstream {
public:
  explicit FakeUpstream(asio::io_context& io) : io_(io), acceptor_(io, {asio::ip::address_v4::loopback(), 0}) {
    asio::co_spawn(io, accept_loop(), [this](std::exception_ptr error) { note(error); });
  }

  std::uint16_t port() const { return port_; }

  // Answers requests for `target` (GET and HEAD) with `reply`, replacing an earlier script.
  void serve(const std::string& target, Reply reply) { routes_[target] = std::move(reply); }
  // When set, answers every request instead of the routes (route() gives what they would say).
  std::function<Reply(const UpstreamRequest&)> respond;
  Reply route(const UpstreamRequest& request) const {
    if (auto it = routes_.find(request.target); it != routes_.end()) return it->second;
    return Reply{.status = 404,
                 .headers = {{"Content-Type", "application/json"}},
                 .body = R"({"errors":[{"code":"BLOB_UNKNOWN","message":"not scripted"}]})"};
  }

  std::shared_ptr<Gate> make_gate() {
    gates_.push_back(std::make_shared<Gate>(io_));
    return gates_.back();
  }

  const std::vector<UpstreamRequest>& requests() const { return requests_; }
  std::size_t connections_accepted() const { return accepted_; }
  // An exception inside the fake itself (a bug of the test, not of the session).
  std::exception_ptr failure() const { return failure_; }

  // Stops accepting (new connections are refused: "upstream down"), ends the open connections and
  // lets every gated transfer go on, so nothing of ours waits forever. Idempotent.
  void stop() {
    std::error_code ignored;
    acceptor_.close(ignored);
    for (auto& weak : connections_) {
      if (auto tls = weak.lock()) {
        tls->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
        tls->next_layer().cancel(ignored);
      }
    }
    connections_.clear();
    for (auto& gate : gates_) gate->open();
  }

private:
  void note(std::exception_ptr error) {
    if (error && !failure_) failure_ = error;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(nothrow_awaitable);
      if (ec) co_return;  // stop()
      ++accepted_;
      std::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // as registries do: no Nagle pause between head and body
      auto tls = std::make_shared<net::TlsStream>(std::move(socket), upstream_server_context().native_handle(),
                                                  net::TlsStream::Role::server);
      // Weak here: the connection's coroutine owns the stream, so it closes when that ends.
      connections_.push_back(tls);
      asio::co_spawn(io_, serve_connection(std::move(tls)), [this](std::exception_ptr error) { note(error); });
    }
  }

  asio::awaitable<void> serve_connection(std::shared_ptr<net::TlsStream> tls) {
    if (auto [ec] = co_await tls->async_handshake(nothrow_awaitable); ec) co_return;
    http::ReadBuffer buffer;
    http::Parser parser(http::Parser::Kind::request);
    for (;;) {
      parser.reset();
      std::error_code ec;
      if (co_await http::read_head(*tls, buffer, parser, ec) != http::HeadStatus::ok) co_return;
      const auto& head = parser.request();
      UpstreamRequest request{.method = head.method, .target = head.target};
      if (auto value = head.headers.get("Authorization")) request.authorization = std::string(*value);
      if (auto value = head.headers.get("Accept")) request.accept = std::string(*value);
      requests_.push_back(request);
      const Reply reply = respond ? respond(request) : route(request);
      if (!co_await send(*tls, reply, request.method == "HEAD") || reply.close || !head.keep_alive) co_return;
    }
  }

  // False when the connection is gone.
  asio::awaitable<bool> send(net::TlsStream& tls, const Reply& reply, bool head_only) {
    http::ResponseHead head;
    head.status = reply.status;
    head.reason = std::string(http::reason_phrase(reply.status));
    for (const auto& [name, value] : reply.headers) head.headers.add(name, value);
    head.headers.set("Content-Length", std::to_string(reply.body.size()));
    if (reply.close) head.headers.set("Connection", "close");
    if (co_await http::write_all(tls, http::serialize(head))) co_return false;
    if (head_only) co_return true;

    const std::size_t piece = reply.piece ? reply.piece : reply.body.size();
    asio::steady_timer pause(io_);
    for (std::size_t offset = 0; offset < reply.body.size();) {
      if (reply.gate && offset >= reply.gate_after) co_await reply.gate->wait();
      if (offset > 0 && reply.pause.count() > 0) {
        pause.expires_after(reply.pause);
        co_await pause.async_wait(nothrow_awaitable);
      }
      std::size_t n = std::min(piece, reply.body.size() - offset);
      if (reply.gate && offset < reply.gate_after) n = std::min(n, reply.gate_after - offset);
      if (co_await http::write_all(tls, std::string_view(reply.body).substr(offset, n))) co_return false;
      offset += n;
    }
    co_return true;
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::map<std::string, Reply> routes_;
  std::vector<UpstreamRequest> requests_;
  std::vector<std::weak_ptr<net::TlsStream>> connections_;
  std::vector<std::shared_ptr<Gate>> gates_;
  std::size_t accepted_ = 0;
  std::exception_ptr failure_;
};

// Canned upstream answers, addressed as a registry addresses them.
inline Reply blob_reply(const std::string& content) {
  return Reply{.headers = {{"Content-Type", "application/octet-stream"},
                           {"Docker-Content-Digest", cache::test::digest_of(content).str()}},
               .body = content};
}

inline constexpr const char* manifest_v2 = "application/vnd.docker.distribution.manifest.v2+json";

inline Reply manifest_reply(const std::string& content) {
  return Reply{.headers = {{"Content-Type", manifest_v2},
                           {"Docker-Content-Digest", cache::test::digest_of(content).str()}},
               .body = content};
}

// --- What the session told its observer --------------------------------------------------------

class RecordingObserver : public RequestObserver {
public:
  void request_done(const AccessRecord& record) override {
    std::lock_guard lock(mutex_);
    records_.push_back(record);
  }
  void upstream_latency(std::chrono::steady_clock::duration) override {}

  std::vector<AccessRecord> records() const {
    std::lock_guard lock(mutex_);
    return records_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return records_.size();
  }

private:
  mutable std::mutex mutex_;
  std::vector<AccessRecord> records_;
};

// --- The world ---------------------------------------------------------------------------------

struct WorldOptions {
  cache::ManifestCacheSettings manifest_cache;  // rpardini's defaults: tags fresh for 60 s
  std::string cache_auth;                       // CACHE_AUTH_MODE; empty: shared (none handed in)
};

struct Response {
  int status = 0;  // 0: no response head arrived
  http::Headers headers;
  std::string body;
  bool complete = false;  // the whole body arrived

  std::string header(std::string_view name) const { return std::string(headers.get(name).value_or("")); }
  std::string x_cache() const { return header("X-Cache"); }
};

class World;

// One client connection to a session. Requests are sent and responses read in separate steps, so
// a test can act between them.
class Client {
public:
  explicit Client(World& world);

  asio::awaitable<void> connect();

  asio::awaitable<void> send(std::string method, std::string target,
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::RequestHead head;
    head.method = std::move(method);
    head.target = std::move(target);
    head.headers.add("Host", host_);
    head.headers.add("User-Agent", "session-test");
    for (auto& [name, value] : headers) head.headers.add(name, value);
    auto ec = co_await http::write_all(socket_, http::serialize(head));
    REQUIRE_FALSE(ec);
  }

  // The response head; the body is left for read_body().
  asio::awaitable<Response> read_head(std::string method) {
    parser_.reset();
    parser_.expect_response_to(method);
    Response response;
    std::error_code ec;
    if (co_await http::read_head(socket_, buffer_, parser_, ec) != http::HeadStatus::ok) co_return response;
    response.status = parser_.response().status;
    response.headers = parser_.response().headers;
    co_return response;
  }

  asio::awaitable<void> read_body(Response& response) {
    auto sink = [&response](std::string_view piece) -> asio::awaitable<std::error_code> {
      response.body.append(piece);
      co_return std::error_code{};
    };
    const auto ec = co_await http::read_body(socket_, buffer_, parser_, idle_, 5s, sink);
    response.complete = !ec;
  }

  asio::awaitable<Response> request(std::string method, std::string target,
                                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    co_await send(method, std::move(target), std::move(headers));
    auto response = co_await read_head(method);
    if (response.status != 0) co_await read_body(response);
    co_return response;
  }

  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

private:
  World& world_;
  tcp::socket socket_;
  std::string host_;
  http::ReadBuffer buffer_;
  http::Parser parser_{http::Parser::Kind::response};
  Deadline idle_;  // read_body wants one; nothing watches it on this side
};

class World {
public:
  explicit World(WorldOptions options = {})
      : store_(open_store(dir_)),
        upstream_tls_(true, write_ca_bundle(dir_)),
        policy_(options.manifest_cache),
        cache_auth_(parse_cache_auth(options.cache_auth)),
        deps{.settings = {.connect_timeout = 2s,
                          .header_timeout = 2s,
                          .client_idle_timeout = 5s,
                          .upstream_idle_timeout = 5s},
             .upstream_tls = upstream_tls_,
             .resolve = resolve_,
             .registries = registries_,
             .credentials = credentials_,
             .blocking = blocking_,
             .cache = store_.get(),
             .manifest_policy = policy_,
             .observer = observer,
             .cache_auth = cache_auth_ ? &*cache_auth_ : nullptr,
             .verdicts = &verdicts_} {
    std::signal(SIGPIPE, SIG_IGN);  // as main() does: OpenSSL writes to a closed peer are errors, not death
  }

  ~World() {
    // Only after a failure is anything still running: let it go, and let the pool's work reach
    // the io_context before the io_context (and the coroutines in it) is destroyed.
    upstream.stop();
    blocking_.join();
  }

  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Runs the test's coroutine, then lets every session and upstream connection end. Fails if the
  // whole does not finish in time (a hung session), or if a session did not end when its client
  // closed.
  template <class Body>
  void run(Body&& body, std::chrono::seconds limit = 10s) {
    auto busy = asio::make_work_guard(io);  // awaiting the blocking pool is no work of the io_context's
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, body(), [&](std::exception_ptr error) {
      failure = error;
      done = true;
      upstream.stop();
      busy.reset();
    });
    io.run_for(limit);
    if (failure) std::rethrow_exception(failure);
    if (upstream.failure()) std::rethrow_exception(upstream.failure());
    REQUIRE(done);          // else the test itself hung
    REQUIRE(io.stopped());  // else something kept running after the clients had gone
    CHECK(sessions_ended_ == sessions_started_);
  }

  // Accepts `socket`'s connection and runs a Session on it, as the mirror port does.
  asio::awaitable<void> start_session(tcp::socket& client) {
    co_await client.async_connect(front_.local_endpoint(), asio::use_awaitable);
    std::error_code ignored;
    client.set_option(tcp::no_delay(true), ignored);
    auto accepted = co_await front_.async_accept(asio::use_awaitable);
    ++sessions_started_;
    asio::co_spawn(io, serve(std::move(accepted), sessions_started_), [this](std::exception_ptr error) {
      ++sessions_ended_;
      if (error) std::rethrow_exception(error);  // a session never throws: let it fail the run
    });
  }

  // One request on a connection of its own, then the connection closes. Returns once the session
  // has reported the request (so its cache commit, which comes before, is done).
  asio::awaitable<Response> fetch(std::string method, std::string target,
                                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    const auto reported = observer.size();
    Client client(*this);
    co_await client.connect();
    auto response = co_await client.request(std::move(method), std::move(target), std::move(headers));
    client.close();
    co_await reports(reported + 1);
    co_return response;
  }

  // Waits until the observer has `count` records: a record comes after the response's last byte.
  asio::awaitable<void> reports(std::size_t count) {
    auto reported = [&] { return observer.size() >= count; };
    co_await wait_until(reported, "the session's access records");
  }

  // Polls `condition` (a named lambda: GCC 12 destroys a lambda temporary inside a co_await
  // expression twice, see common/run_blocking.hpp) until it holds; fails after `limit`.
  template <class Condition>
  asio::awaitable<void> wait_until(Condition& condition, std::string what, std::chrono::milliseconds limit = 3s) {
    asio::steady_timer timer(io);
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > give_up) FAIL("timed out waiting for " << what);
      timer.expires_after(1ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  std::string authority() const { return "registry.test:" + std::to_string(upstream.port()); }
  cache::CacheStore& store() { return *store_; }
  const cache::ManifestCachePolicy& policy() const { return policy_; }

private:
  static std::unique_ptr<cache::CacheStore> open_store(const cache::test::TempDir& dir) {
    cache::CacheSettings settings;
    settings.directory = dir.path() / "cache";
    return cache::CacheStore::open(settings);
  }

  // UPSTREAM_CA_BUNDLE: the test root, which signs the fake upstream's leaf.
  static std::string write_ca_bundle(const cache::test::TempDir& dir) {
    const auto path = dir.path() / "upstream-ca.pem";
    std::ofstream(path) << ca::test::shared_test_root().cert_pem();
    return path.string();
  }

  static std::optional<auth::CacheAuthModes> parse_cache_auth(const std::string& text) {
    if (text.empty()) return std::nullopt;
    auto modes = auth::CacheAuthModes::parse(text);
    if (!modes) throw std::invalid_argument(modes.error);
    return *modes.value;
  }

  asio::awaitable<void> serve(tcp::socket socket, std::uint64_t id) {
    using namespace asio::experimental::awaitable_operators;
    Deadline deadline;
    const auto peer = socket.remote_endpoint();
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // as the mirror port does
    SessionInfo info{.id = id,
                     .client = peer.address().to_string() + ":" + std::to_string(peer.port()),
                     .host = "registry.test",
                     .port = upstream.port()};
    Session session(socket, deps, deadline, std::move(info));
    co_await (session.run() || deadline.watchdog());
  }

  // Declared first, destroyed last: everything below may point into these.
  cache::test::TempDir dir_;
  asio::thread_pool blocking_{2};
  std::unique_ptr<cache::CacheStore> store_;
  net::UpstreamTls upstream_tls_;
  net::ResolveOverrides resolve_{"registry.test=127.0.0.1"};
  auth::RegistryMatcher registries_{"registry.test"};
  auth::CredentialStore credentials_;  // AUTH_REGISTRIES: none
  cache::ManifestCachePolicy policy_;
  std::optional<auth::CacheAuthModes> cache_auth_;
  auth::AccessVerdicts verdicts_;
  std::size_t sessions_started_ = 0;
  std::size_t sessions_ended_ = 0;

public:
  RecordingObserver observer;
  Dependencies deps;
  // Destroyed before the services above, and after the sockets below are closed.
  asio::io_context io;
  FakeUpstream upstream{io};

private:
  tcp::acceptor front_{io, {asio::ip::address_v4::loopback(), 0}};
};

inline Client::Client(World& world) : world_(world), socket_(world.io), host_(world.authority()) {}

inline asio::awaitable<void> Client::connect() { co_await world_.start_session(socket_); }

}  // namespace pt::registry::test
