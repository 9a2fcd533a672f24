#include "proxy/front/proxy_port.hpp"

#include "auth/connect_policy.hpp"
#include "common/host_port.hpp"
#include "auth/proxy_authenticator.hpp"
#include "auth/registry_matcher.hpp"
#include "common/run_blocking.hpp"
#include "proxy/front/admission.hpp"
#include "proxy/front/intercept.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/peer_text.hpp"
#include "proxy/net/tunnel.hpp"
#include "proxy/net/upstream_connection.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::front {
namespace {

using asio::ip::tcp;

class ClientSession {
public:
  ClientSession(tcp::socket socket, Dependencies& deps, std::uint64_t id)
      : socket_(std::move(socket)),
        deps_(deps),
        id_(id),
        client_(net::peer_text(socket_)),
        parser_(http::Parser::Kind::request, {.max_head_bytes = deps.registry.settings.max_header_bytes}) {}

  asio::awaitable<void> run() {
    using namespace asio::experimental::awaitable_operators;
    co_await (serve() || deadline_.watchdog());
  }

private:
  asio::awaitable<void> serve() {
    const auto& config = deps_.registry.settings;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    for (bool first = true;; first = false) {
      if (Deadline::draining()) co_return;
      deadline_.set_idle(!first);
      deadline_.expires_after(first ? config.header_timeout : config.client_idle_timeout);
      if (buffer_.empty() && co_await http::read_when_ready(socket_, buffer_, http::head_read_size)) co_return;
      deadline_.set_idle(false);
      deadline_.expires_after(config.header_timeout);

      parser_.reset();
      std::error_code ec;
      const auto status = co_await http::read_head(socket_, buffer_, parser_, ec);
      if (status == http::HeadStatus::closed || status == http::HeadStatus::io_error) co_return;
      if (status == http::HeadStatus::parse_error) {
        co_await refuse(parser_.error() == http::ParseError::head_too_large ? 431 : 400,
                        "bad request: " + parser_.error_text());
        co_return;
      }
      const auto& request = parser_.request();
      const bool proxying = request.method == "CONNECT" || !request.target.starts_with('/');
      if (proxying && !co_await client_authenticated()) {
        http::Headers challenge;
        challenge.add("Proxy-Authenticate", "Basic realm=\"pullthrough\", charset=\"UTF-8\"");
        co_await refuse(407, "proxy authentication required (PROXY_AUTH_FILE)", std::move(challenge));
        co_return;
      }
      if (request.method == "CONNECT") {
        co_await handle_connect();
        co_return;
      }
      if (!co_await answer_local()) co_return;
    }
  }

  // With PROXY_AUTH_FILE, a client must send a valid Proxy-Authorization to be proxied. The proxy's
  // own pages (/ca.crt, /healthz) need none: clients fetch the CA before they are configured.
  asio::awaitable<bool> client_authenticated() {
    auto* authenticator = deps_.proxy_auth;
    if (!authenticator) co_return true;
    const auto header = parser_.request().headers.get("Proxy-Authorization");
    if (!header) co_return false;
    if (authenticator->recently_accepted(*header)) co_return true;
    // bcrypt costs tens of milliseconds by design: never on an I/O thread.
    auto check = [authenticator, value = std::string(*header)] { return authenticator->check(value); };
    co_return co_await run_blocking(deps_.registry.blocking, std::move(check));
  }

  // Plain requests to the proxy itself; false when the connection must close.
  asio::awaitable<bool> answer_local() {
    const auto& request = parser_.request();
    const auto started = std::chrono::steady_clock::now();
    std::error_code no_peer;  // (then the unspecified address: never loopback, so refused)
    const auto peer = socket_.remote_endpoint(no_peer).address();
    Exchange io(*this);
    const auto handled = co_await deps_.local.exchange(request, peer, io);
    if (handled) co_return *handled;
    const auto response = co_await deps_.local.answer(request, peer);
    // A request body (none is expected here) would be misread as the next request.
    const bool keep_alive = request.keep_alive && request.framing == http::BodyFraming::none;
    auto ec = co_await http::write_all(socket_, http::render(response, keep_alive, request.method == "HEAD"));
    if (response.status >= 400) {
      deps_.registry.observer.request_done({.session = id_, .client = client_, .host = "-", .method = request.method,
                  .path = http::path_of(request.target), .status = response.status, .bytes = response.body.size(),
                  .duration = std::chrono::steady_clock::now() - started, .cache = registry::CacheStatus::local});
    }
    co_return !ec && keep_alive;
  }

  // The connection as a local service answering over it sees it (LocalService::exchange).
  class Exchange final : public LocalExchange {
  public:
    explicit Exchange(ClientSession& session) : session_(session) {}

    asio::awaitable<std::optional<std::string>> read_body(std::size_t limit) override {
      auto& s = session_;
      if (s.parser_.request().framing == http::BodyFraming::none) co_return std::string();
      std::string body;
      bool too_large = false;
      const auto ec = co_await http::read_body(s.socket_, s.buffer_, s.parser_, s.deadline_,
                                               s.deps_.registry.settings.header_timeout,
                                               [&](std::string_view piece) -> asio::awaitable<std::error_code> {
                                                 if (body.size() + piece.size() > limit) {
                                                   too_large = true;
                                                   co_return std::make_error_code(std::errc::message_size);
                                                 }
                                                 body.append(piece);
                                                 co_return std::error_code{};
                                               });
      if (ec || too_large) co_return std::nullopt;
      co_return body;
    }

    asio::awaitable<std::error_code> write(std::string_view bytes) override {
      session_.deadline_.expires_after(silence_);
      co_return co_await http::write_all(session_.socket_, bytes);
    }

    void allow_silence(std::chrono::milliseconds silence) override {
      silence_ = std::max<std::chrono::milliseconds>(silence, session_.deps_.registry.settings.client_idle_timeout);
      session_.deadline_.expires_after(silence_);
    }

  private:
    ClientSession& session_;
    std::chrono::milliseconds silence_ = session_.deps_.registry.settings.client_idle_timeout;
  };

  asio::awaitable<void> handle_connect() {
    const auto& request = parser_.request();
    auto target = parse_connect_target(request.target);
    if (!target) {
      co_await refuse(400, fmt::format("bad CONNECT target '{}': {}", printable(request.target), target.error));
      co_return;
    }
    const std::uint16_t port = target->port.value_or(443);
    if (deps_.registry.registries.intercepts(target->host, port)) {
      co_await intercept(target->host, port);
      co_return;
    }
    if (deps_.registry.settings.offline) {
      co_await refuse(503, fmt::format("CONNECT to {}:{}: the proxy is offline (OFFLINE=true) and tunnels nothing",
                                       printable(target->host), port));
      co_return;
    }
    if (deps_.connect_policy && !deps_.connect_policy->allows(target->host, port)) {
      co_await refuse(403, fmt::format("CONNECT to {}:{} is not allowed (ALLOWED_CONNECT)",
                                       printable(target->host), port));
      co_return;
    }
    std::error_code not_ip;
    const auto literal = asio::ip::make_address(target->host, not_ip);
    if (!not_ip && auth::is_forbidden_destination(literal)) {
      co_await refuse(403, fmt::format("CONNECT to {} is not allowed (link-local or reserved address)", target->host));
      co_return;
    }
    co_await tunnel(target->host, port);
  }

  asio::awaitable<void> intercept(const std::string& host, std::uint16_t port) {
    registry::SessionInfo info{.id = id_, .client = client_, .host = host, .port = port};
    const auto context = co_await leaf_for(deps_, id_, host);
    if (!context) {
      // Either minting failed (logged) or MAX_CERTS_PER_MINUTE was reached for new hosts.
      co_await refuse(503, fmt::format("cannot intercept {}: no certificate (minting failed or "
                                       "MAX_CERTS_PER_MINUTE reached); retry later", host));
      co_return;
    }
    if (co_await http::write_all(socket_, std::string_view("HTTP/1.1 200 Connection Established\r\n\r\n"))) co_return;

    // Bytes the client sent right behind the CONNECT head are the start of its ClientHello.
    std::string early(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.release();  // the session's own buffers take over
    const HandshakeLog log{.host = info.authority(), .method = "CONNECT", .cache = registry::CacheStatus::bypass,
                           .hint = "does the client trust /ca.crt?"};
    co_await serve_tls_session(std::move(socket_), *context, std::move(early), deps_, deadline_, std::move(info), log);
  }

  asio::awaitable<void> tunnel(const std::string& host, std::uint16_t port) {
    const auto started = std::chrono::steady_clock::now();
    registry::AccessRecord record{.session = id_, .client = client_, .host = format_authority(host, port),
                        .method = "CONNECT", .path = "-", .cache = registry::CacheStatus::tunnel};
    tcp::socket server(socket_.get_executor());
    deadline_.expires_after(deps_.registry.settings.connect_timeout);
    // With UPSTREAM_PROXY the tunnel is a CONNECT through the corporate proxy too: behind one,
    // there is no other way out.
    const auto connected = co_await net::connect_tcp(server, host, port, deps_.registry.resolve);
    if (connected.error) {
      record.error = *connected.error;
      co_await refuse(502, *connected.error);
      co_return;
    }
    // A name may resolve to what a literal could not name: the metadata service, or ourselves
    // (a loop that would eat a connection slot per hop). Through a corporate proxy the peer is that
    // proxy, and where the name leads is its business (literals were checked above).
    if (auto problem = connected.via_proxy ? std::nullopt : forbidden_peer(server)) {
      co_await refuse(403, fmt::format("CONNECT to {}:{} is not allowed: {}", printable(host), port, *problem));
      co_return;
    }
    if (co_await http::write_all(socket_, std::string_view("HTTP/1.1 200 Connection Established\r\n\r\n"))) co_return;
    record.status = 200;
    const std::string early(buffer_.data());
    buffer_.consume(buffer_.size());
    auto stats = co_await net::run_tunnel(socket_, server, early, deadline_, deps_.registry.settings.client_idle_timeout);
    record.bytes = stats.server_to_client;
    record.duration = std::chrono::steady_clock::now() - started;
    deps_.registry.observer.request_done(record);
  }

  std::optional<std::string> forbidden_peer(const tcp::socket& server) const {
    std::error_code ec;
    const auto remote = server.remote_endpoint(ec);
    const auto local = server.local_endpoint(ec);
    if (ec) return std::nullopt;
    if (auth::is_forbidden_destination(remote.address())) return "link-local or reserved address";
    const bool ours = remote.address() == local.address() || remote.address().is_loopback();
    if (ours && is_own_port(remote.port())) return "that is this proxy";
    return std::nullopt;
  }

  bool is_own_port(std::uint16_t port) const {
    const auto& ports = deps_.settings.own_ports;
    return std::find(ports.begin(), ports.end(), port) != ports.end();
  }

  // Answers with an error and closes; logs the refusal.
  asio::awaitable<void> refuse(int status, std::string message, http::Headers extra = {}) {
    http::LocalResponse response;
    response.status = status;
    response.body = "pullthrough: " + message + "\n";
    response.extra_headers = std::move(extra);
    const bool parsed = parser_.head_complete();
    deps_.registry.observer.request_done({.session = id_, .client = client_, .host = "-",
                .method = parsed ? parser_.request().method : "-",
                .path = parsed ? printable(http::path_of(parser_.request().target)) : "-", .status = status,
                .bytes = response.body.size(), .cache = registry::CacheStatus::local, .error = message});
    deadline_.expires_after(std::chrono::seconds(5));
    co_await http::write_all(socket_, http::render(response, false, false));
  }

  // Client text for logs and error bodies: printable ASCII only, bounded.
  static std::string printable(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  }

  tcp::socket socket_;
  Dependencies& deps_;
  std::uint64_t id_;
  std::string client_;
  Deadline deadline_;
  http::ReadBuffer buffer_;
  http::Parser parser_;
};

}  // namespace

asio::awaitable<void> serve_client(tcp::socket socket, Dependencies& deps, std::uint64_t session_id) {
  const auto ticket = co_await admit_connection(socket, deps, session_id, true);
  if (!ticket) co_return;
  ClientSession session(std::move(socket), deps, session_id);
  co_await session.run();
}

}  // namespace pt::front
