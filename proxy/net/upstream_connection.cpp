#include "proxy/net/upstream_connection.hpp"

#include "common/host_port.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/dns_resolver.hpp"
#include "proxy/net/egress.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>

namespace pt::net {
namespace {

bool is_ip_literal(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Describes a failed handshake; a certificate problem says which, since that is what users fix.
std::string handshake_failure(SSL* ssl, const std::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return fmt::format("upstream certificate rejected: {} (set UPSTREAM_CA_BUNDLE, or VERIFY_SSL=false)",
                       X509_verify_cert_error_string(verify));
  }
  return fmt::format("TLS handshake failed: {}", ec.message());
}

}  // namespace

asio::awaitable<ResolvedUpstream> resolve_upstream(const std::string& host, std::uint16_t port,
                                                   const ResolveOverrides& overrides) {
  auto executor = co_await asio::this_coro::executor;
  std::string address = host;
  if (auto override = overrides.lookup(host)) {
    address = override->address;
    if (override->port) port = *override->port;
  }
  ResolvedUpstream resolved;
  std::error_code ec;
  if (auto ip = asio::ip::make_address(address, ec); !ec) {
    resolved.endpoints.emplace_back(ip, port);
    co_return resolved;
  }
  if (const auto* dns = overrides.dns()) {
    auto answer = co_await dns->resolve(address);
    if (!answer.ok()) {
      resolved.error = fmt::format("cannot resolve {} (RESOLVERS): {}", address, answer.error);
      co_return resolved;
    }
    resolved.endpoints = answer.endpoints(port);
    co_return resolved;
  }
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, results] = co_await resolver.async_resolve(address, std::to_string(port), nothrow_awaitable);
  if (resolve_ec) {
    resolved.error = fmt::format("cannot resolve {}: {}", address, resolve_ec.message());
    co_return resolved;
  }
  for (const auto& entry : results) resolved.endpoints.push_back(entry.endpoint());
  if (resolved.endpoints.empty()) resolved.error = fmt::format("cannot resolve {}: no addresses", address);
  co_return resolved;
}

bool reaches_listener(const asio::ip::tcp::endpoint& candidate, const asio::ip::tcp::endpoint& listener) {
  if (candidate.port() != listener.port()) return false;
  auto plain = [](const asio::ip::address& a) {
    return a.is_v6() && a.to_v6().is_v4_mapped() ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6())) : a;
  };
  const auto address = plain(candidate.address());
  const auto own = plain(listener.address());
  if (address == own) return true;
  return own.is_unspecified() && (address.is_loopback() || address.is_unspecified());
}

std::vector<asio::ip::tcp::endpoint> interleave_families(const std::vector<asio::ip::tcp::endpoint>& endpoints) {
  std::vector<asio::ip::tcp::endpoint> first;
  std::vector<asio::ip::tcp::endpoint> second;
  for (const auto& endpoint : endpoints) {
    if (std::find(first.begin(), first.end(), endpoint) != first.end() ||
        std::find(second.begin(), second.end(), endpoint) != second.end()) {
      continue;
    }
    (endpoint.protocol() == endpoints.front().protocol() ? first : second).push_back(endpoint);
  }
  std::vector<asio::ip::tcp::endpoint> out;
  out.reserve(first.size() + second.size());
  for (std::size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < second.size()) out.push_back(second[i]);
  }
  return out;
}

namespace {

using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::any_io_executor>;

std::string endpoint_text(const tcp::endpoint& endpoint) {
  return format_authority(endpoint.address().to_string(), endpoint.port());
}

// The attempts of one connect_first. Shared with the completion handlers of the connects, which
// run on the same strand as the race coroutine: no locks, and a handler that completes late
// (after a cancelled race has returned) still finds what it touches.
struct Race {
  Race(const Strand& strand, std::size_t n) : wake(strand), results(n) { sockets.reserve(n); }

  asio::steady_timer wake;  // the race coroutine sleeps on it; a finished attempt cancels it
  std::vector<tcp::socket> sockets;                       // one per attempt started (never reallocated)
  std::vector<std::optional<std::error_code>> results;    // per endpoint, once finished
  std::size_t running = 0;
  std::optional<std::size_t> winner;
};

// The explicit structure of connect_first: one coroutine on a strand starts the attempts and
// sleeps on `wake` between events; each connect's completion handler records its result and
// wakes it. (Asio's awaitable operators do not fit: `a || b` ends at the first completion,
// success or failure, and cancels the rest, where a failure here must start the next attempt
// and leave the others running.)
asio::awaitable<std::optional<std::string>> race(std::shared_ptr<Race> state, Strand strand,
                                                 std::vector<tcp::endpoint> endpoints,
                                                 std::chrono::milliseconds stagger, tcp::socket& out) {
  using clock = std::chrono::steady_clock;
  auto& st = *state;
  auto cancel_state = co_await asio::this_coro::cancellation_state;
  auto cancelled = [&] { return cancel_state.cancelled() != asio::cancellation_type::none; };
  std::size_t next = 0;
  auto next_start = clock::now();
  while (!st.winner && !cancelled()) {
    if (next < endpoints.size() && (st.running == 0 || clock::now() >= next_start)) {
      const auto i = next++;
      auto& socket = st.sockets.emplace_back(strand);
      std::error_code ec;
      socket.open(endpoints[i].protocol(), ec);
      if (ec) {
        st.results[i] = ec;
        continue;
      }
      ++st.running;
      socket.async_connect(endpoints[i], [state, i](std::error_code ec) {
        --state->running;
        state->results[i] = ec;
        if (!ec && !state->winner) state->winner = i;
        state->wake.cancel();
      });
      next_start = clock::now() + stagger;
      continue;
    }
    if (st.running == 0) break;  // every address failed
    st.wake.expires_at(next < endpoints.size() ? next_start : clock::time_point::max());
    co_await st.wake.async_wait(nothrow_awaitable);
  }
  // The losers: closing aborts their connects, whose handlers are awaited here.
  for (std::size_t i = 0; i < st.sockets.size(); ++i) {
    std::error_code ignored;
    if (i != st.winner) st.sockets[i].close(ignored);
  }
  while (st.running > 0) {
    st.wake.expires_at(clock::time_point::max());
    co_await st.wake.async_wait(nothrow_awaitable);
  }
  if (st.winner) {
    auto& socket = st.sockets[*st.winner];
    std::error_code ec;
    out.close(ec);
    const auto handle = socket.release(ec);
    if (!ec) out.assign(endpoints[*st.winner].protocol(), handle, ec);
    if (!ec) co_return std::nullopt;
    co_return fmt::format("{}: {}", endpoint_text(endpoints[*st.winner]), ec.message());
  }
  if (cancelled()) co_return std::string("connect cancelled");
  std::string why;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (!st.results[i]) continue;
    if (!why.empty()) why += "; ";
    why += fmt::format("{}: {}", endpoint_text(endpoints[i]), st.results[i]->message());
  }
  co_return why;
}

}  // namespace

asio::awaitable<std::optional<std::string>> connect_first(tcp::socket& socket, const std::vector<tcp::endpoint>& endpoints,
                                                          std::chrono::milliseconds stagger) {
  if (endpoints.empty()) co_return std::string("no addresses");
  auto strand = asio::make_strand(co_await asio::this_coro::executor);
  auto state = std::make_shared<Race>(strand, endpoints.size());
  co_return co_await asio::co_spawn(strand, race(state, strand, endpoints, stagger, socket), asio::use_awaitable);
}

namespace {

// A direct connection: the name resolved here (UPSTREAM_RESOLVE, RESOLVERS or the system).
asio::awaitable<std::optional<std::string>> connect_direct(asio::ip::tcp::socket& socket, const std::string& host,
                                                           std::uint16_t port, const ResolveOverrides& overrides,
                                                           std::optional<asio::ip::tcp::endpoint> refuse) {
  auto resolved = co_await resolve_upstream(host, port, overrides);
  if (resolved.endpoints.empty()) co_return resolved.error;
  if (refuse) {
    for (const auto& endpoint : resolved.endpoints) {
      if (reaches_listener(endpoint, *refuse)) {
        co_return fmt::format("{} resolves to this proxy's own listener {} (a DNS-hijack loop): point it at the "
                              "real registry with UPSTREAM_RESOLVE or RESOLVERS",
                              host, endpoint.address().to_string());
      }
    }
  }
  const auto order = interleave_families(resolved.endpoints);
  if (auto failure = co_await connect_first(socket, order)) {
    co_return fmt::format("connect to {} failed: {}", host, *failure);
  }
  std::error_code ec;
  if (const auto peer = socket.remote_endpoint(ec); !ec && peer != order.front()) {
    spdlog::debug("connect to {}: {} did not connect first; {} did (happy eyeballs)", host,
                  endpoint_text(order.front()), endpoint_text(peer));
  }
  co_return std::nullopt;
}

// Largest CONNECT response head we read; a proxy's is a few hundred bytes.
constexpr std::size_t max_connect_head = 16 * 1024;

}  // namespace

asio::awaitable<std::optional<std::string>> open_proxy_tunnel(asio::ip::tcp::socket& socket, const UpstreamProxy& proxy,
                                                              std::string_view host, std::uint16_t port) {
  const auto target = format_authority(host, port);
  if (auto ec = co_await http::write_all(socket, connect_request(proxy, host, port))) {
    co_return fmt::format("corporate proxy {} (UPSTREAM_PROXY): sending CONNECT {} failed: {}", proxy.display(),
                          target, ec.message());
  }
  // The head is read with MSG_PEEK first, then exactly its bytes are consumed: whatever the proxy
  // sends after its blank line (a server speaking first through the tunnel) stays in the socket
  // for the TLS stream or the blind tunnel, which own the socket from here on. No buffer of ours
  // has to be handed over, and nothing is read twice: what holds no end of head is consumed.
  std::string head;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [peek_ec, n] =
        co_await socket.async_receive(asio::buffer(chunk), asio::socket_base::message_peek, nothrow_awaitable);
    if (peek_ec) {
      co_return fmt::format("corporate proxy {} (UPSTREAM_PROXY) closed the connection before answering CONNECT {}: {}",
                            proxy.display(), target, peek_ec.message());
    }
    const auto before = head.size();
    head.append(chunk.data(), n);
    const auto length = connect_head_length(head);
    const std::size_t take = length != 0 ? length - before : n;
    head.resize(before + take);
    auto [read_ec, got] = co_await asio::async_read(socket, asio::buffer(chunk.data(), take), nothrow_awaitable);
    if (read_ec) {
      co_return fmt::format("corporate proxy {} (UPSTREAM_PROXY): reading its answer to CONNECT {} failed: {}",
                            proxy.display(), target, read_ec.message());
    }
    if (length != 0) break;
    if (head.size() > max_connect_head) {
      co_return fmt::format("corporate proxy {} (UPSTREAM_PROXY) answered CONNECT {} with a head over {} bytes",
                            proxy.display(), target, max_connect_head);
    }
  }
  auto reply = parse_connect_reply(head);
  if (!reply) {
    co_return fmt::format("corporate proxy {} (UPSTREAM_PROXY) answered CONNECT {} with {}", proxy.display(), target,
                          reply.error);
  }
  co_return connect_refusal(*reply, proxy, target);
}

asio::awaitable<TcpConnect> connect_tcp(asio::ip::tcp::socket& socket, const std::string& host, std::uint16_t port,
                                        const ResolveOverrides& overrides,
                                        std::optional<asio::ip::tcp::endpoint> refuse) {
  TcpConnect result;
  // UPSTREAM_RESOLVE wins over the corporate proxy's DNS: the CONNECT then names the address the
  // user chose (a mirror, a host the proxy's DNS does not know), and UPSTREAM_NO_PROXY may name it.
  std::string target_host = host;
  std::uint16_t target_port = port;
  const auto override = overrides.lookup(host);
  if (override) {
    target_host = override->address;
    if (override->port) target_port = *override->port;
  }
  const UpstreamProxy* proxy = nullptr;
  if (const auto* egress = overrides.egress()) {
    proxy = egress->proxy_for(host, override ? std::optional<std::string_view>(override->address) : std::nullopt);
  }
  if (proxy == nullptr) {
    result.error = co_await connect_direct(socket, host, port, overrides, refuse);
  } else {
    result.via_proxy = true;
    // The proxy's own name is resolved here (UPSTREAM_RESOLVE, RESOLVERS or the system).
    if (auto failure = co_await connect_direct(socket, proxy->host, proxy->port, overrides, std::nullopt)) {
      result.error = fmt::format("cannot reach the corporate proxy {} (UPSTREAM_PROXY) for {}: {}", proxy->display(),
                                 format_authority(host, port), *failure);
    } else {
      result.error = co_await open_proxy_tunnel(socket, *proxy, target_host, target_port);
    }
  }
  if (result.error) {
    std::error_code ignored;
    socket.close(ignored);
    co_return result;
  }
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return result;
}

asio::awaitable<std::optional<UpstreamFailure>> UpstreamConnection::open(const std::string& host,
                                                                         std::uint16_t port, Transport transport) {
  close();
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  if (auto connected = co_await connect_tcp(socket, host, port, overrides_, refuse_); connected.error) {
    co_return UpstreamFailure{.message = *connected.error, .unreachable = true};
  }
  if (transport == Transport::cleartext) {
    stream_.emplace(std::move(socket));
    opened(host, port, transport);
    co_return std::nullopt;
  }
  Stream stream(std::move(socket), tls_.context().native_handle(), TlsStream::Role::client);

  SSL* ssl = stream.native_handle();
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (tls_.verify()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
  }
  auto [ec] = co_await stream.async_handshake(nothrow_awaitable);
  if (ec) {
    co_return UpstreamFailure{.message = fmt::format("{}:{}: {}", host, port, handshake_failure(ssl, ec)),
                              .unreachable = false};
  }

  stream_.emplace(std::move(stream));
  opened(host, port, transport);
  co_return std::nullopt;
}

void UpstreamConnection::opened(const std::string& host, std::uint16_t port, Transport transport) {
  buffer_ = http::ReadBuffer();
  host_ = host;
  port_ = port;
  transport_ = transport;
  requests_ = 0;
}

void UpstreamConnection::close() {
  if (!stream_) return;
  std::error_code ignored;
  stream_->next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_->next_layer().close(ignored);
  stream_.reset();
}

asio::awaitable<std::optional<UpstreamFailure>> open_within(UpstreamConnection& connection, const std::string& host,
                                                            std::uint16_t port, std::chrono::milliseconds limit,
                                                            std::string_view setting, Transport transport) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(limit);
  auto raced = co_await (connection.open(host, port, transport) || timer.async_wait(asio::use_awaitable));
  if (raced.index() == 0) co_return std::get<0>(std::move(raced));
  connection.close();
  co_return UpstreamFailure{
      .message = fmt::format("{}: no {}connection within {} ms ({})", format_authority(host, port),
                             transport == Transport::tls ? "TLS " : "", limit.count(), setting)};
}

}  // namespace pt::net
