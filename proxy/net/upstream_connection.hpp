#pragma once
// One TLS connection from the proxy to an upstream registry (or a CDN it redirects to): static
// resolve overrides or DNS, connect (directly, or as a CONNECT through the corporate proxy of
// UPSTREAM_PROXY), TLS with SNI and host name verification, keep-alive. (Or, for an http:// S3
// endpoint alone, the same connection in cleartext.)
#include "common/deadline.hpp"
#include "proxy/http/read_buffer.hpp"
#include "proxy/net/tls_stream.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::net {

class ResolveOverrides;
class UpstreamTls;
struct UpstreamProxy;

// The one place where upstream names become addresses: UPSTREAM_RESOLVE first, then RESOLVERS if
// set, else the system resolver.
struct ResolvedUpstream {
  std::vector<asio::ip::tcp::endpoint> endpoints;  // empty on failure
  std::string error;
};
asio::awaitable<ResolvedUpstream> resolve_upstream(const std::string& host, std::uint16_t port,
                                                   const ResolveOverrides& overrides);

// True when connecting to `candidate` would reach `listener` itself: the same address and port, or,
// for a listener on a wildcard address, the same port on a loopback address. The DNS-hijack
// listener refuses such upstreams (the proxy's own resolver points the name at the proxy).
bool reaches_listener(const asio::ip::tcp::endpoint& candidate, const asio::ip::tcp::endpoint& listener);

// The order in which connect_tcp tries a name's addresses (RFC 8305 section 4): the two families
// alternate, starting with the family of the first address (the resolver's preference), each
// family keeping its own order; duplicates are dropped. {a1 a2 b1} -> {a1 b1 a2}.
std::vector<asio::ip::tcp::endpoint> interleave_families(const std::vector<asio::ip::tcp::endpoint>& endpoints);

// Happy eyeballs (RFC 8305 section 5): tries `endpoints` in order, starting the next attempt when
// the current one has not connected within `stagger` or as soon as it fails (a refusal moves on
// at once); earlier attempts keep running. The first connection wins and becomes `socket`; the
// others are closed and awaited before returning (nothing is left running). Returns, for the
// log, why none connected ("[::1]:443: Connection refused; 10.0.0.5:443: ..."), or nullopt.
// Never throws for a failed connection; a cancelled caller (a deadline) gets "cancelled".
inline constexpr std::chrono::milliseconds happy_eyeballs_stagger{250};
asio::awaitable<std::optional<std::string>> connect_first(asio::ip::tcp::socket& socket,
                                                          const std::vector<asio::ip::tcp::endpoint>& endpoints,
                                                          std::chrono::milliseconds stagger = happy_eyeballs_stagger);

// What connect_tcp did.
struct TcpConnect {
  std::optional<std::string> error;  // for the log and the client's 502; empty when connected
  bool via_proxy = false;            // a CONNECT tunnel through UPSTREAM_PROXY: the peer is that proxy
};

// Connects a TCP socket to host:port, honouring UPSTREAM_RESOLVE, and UPSTREAM_PROXY when
// `overrides` carries an Egress: then the socket is a CONNECT tunnel through the corporate proxy,
// which resolves the name (or is given UPSTREAM_RESOLVE's address for it), and `refuse` does not
// apply (no address is known here). `refuse`: an address never to connect to (see
// reaches_listener). A name with several addresses is connected happy-eyeballs style
// (interleave_families, connect_first).
asio::awaitable<TcpConnect> connect_tcp(asio::ip::tcp::socket& socket, const std::string& host, std::uint16_t port,
                                        const ResolveOverrides& overrides,
                                        std::optional<asio::ip::tcp::endpoint> refuse = std::nullopt);

// Asks the corporate proxy at the other end of `socket` for a tunnel to host:port (CONNECT, with
// Proxy-Authorization when it has credentials). Reads exactly the proxy's response head and not a
// byte more, so what follows on the socket is the tunnel's. Returns why there is no tunnel: a
// refusal (407, 403, ...) names the proxy, masked; never throws.
asio::awaitable<std::optional<std::string>> open_proxy_tunnel(asio::ip::tcp::socket& socket, const UpstreamProxy& proxy,
                                                              std::string_view host, std::uint16_t port);

// Why an upstream connection could not be opened.
struct UpstreamFailure {
  std::string message;
  bool unreachable = true;  // no TCP connection; false when TLS (e.g. the certificate) failed
};

// What an upstream connection carries: TLS, always, but for an S3 endpoint its operator named
// http:// (S3_ENDPOINT).
enum class Transport { tls, cleartext };

class UpstreamConnection {
public:
  using Stream = TlsStream;

  UpstreamConnection(UpstreamTls& tls, const ResolveOverrides& overrides) : tls_(tls), overrides_(overrides) {}

  // Connects and completes the TLS handshake, verifying the certificate for `host` unless
  // VERIFY_SSL=false (cleartext: connects). On failure the connection stays closed and the reason
  // is returned.
  asio::awaitable<std::optional<UpstreamFailure>> open(const std::string& host, std::uint16_t port,
                                                       Transport transport = Transport::tls);

  bool is_open() const { return stream_.has_value(); }
  bool is_for(const std::string& host, std::uint16_t port, Transport transport = Transport::tls) const {
    return is_open() && host_ == host && port_ == port && transport_ == transport;
  }
  void close();
  // Never connect to `listener` (see reaches_listener): set by the DNS-hijack listener's sessions.
  void refuse_endpoint(asio::ip::tcp::endpoint listener) { refuse_ = listener; }

  Stream& stream() { return *stream_; }
  http::ReadBuffer& buffer() { return buffer_; }
  // Requests sent on this connection; a failure on a reused one may be a stale keep-alive.
  unsigned requests() const { return requests_; }
  void count_request() { ++requests_; }

private:
  void opened(const std::string& host, std::uint16_t port, Transport transport);

  UpstreamTls& tls_;
  const ResolveOverrides& overrides_;
  std::optional<Stream> stream_;
  std::optional<asio::ip::tcp::endpoint> refuse_;
  http::ReadBuffer buffer_;
  std::string host_;
  std::uint16_t port_ = 0;
  Transport transport_ = Transport::tls;
  unsigned requests_ = 0;
};

// open() within `limit`, on a timer of its own rather than the caller's deadline: a peer that
// accepts and then says nothing (stopped, overloaded) costs `limit` and a failure, not the
// session. On expiry the connection is closed and the failure says so, naming `setting`.
asio::awaitable<std::optional<UpstreamFailure>> open_within(UpstreamConnection& connection, const std::string& host,
                                                            std::uint16_t port, std::chrono::milliseconds limit,
                                                            std::string_view setting,
                                                            Transport transport = Transport::tls);

}  // namespace pt::net
