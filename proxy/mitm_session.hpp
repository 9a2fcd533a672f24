#pragma once
// The HTTP/1.1 conversation inside an intercepted CONNECT: the client's requests, decrypted with
// our leaf certificate, are served one after another (keep-alive), each relayed to the real
// registry over TLS, or answered from the cache.
#include "cache/cache_policy.hpp"
#include "cache/cache_store.hpp"
#include "cache/registry_request.hpp"
#include "proxy/access_log.hpp"
#include "proxy/deadline.hpp"
#include "proxy/forwarding.hpp"
#include "proxy/http_codec.hpp"
#include "proxy/read_buffer.hpp"
#include "proxy/upstream_connection.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>

#include <cstdint>
#include <string>

namespace pt {

struct Services;

struct SessionInfo {
  std::uint64_t id = 0;
  std::string client;    // ip:port of the client
  std::string host;      // the CONNECT target
  std::uint16_t port = 443;
  std::string authority() const { return port == 443 ? host : host + ":" + std::to_string(port); }
};

class MitmSession {
public:
  using ClientStream = asio::ssl::stream<asio::ip::tcp::socket>;

  MitmSession(ClientStream& client, Services& services, Deadline& deadline, SessionInfo info);

  asio::awaitable<void> run();

private:
  // What became of sending a request upstream.
  struct Exchange {
    bool ok = false;           // a response head is in the parser
    bool unreachable = false;  // no TCP connection could be had (not: a rejected certificate)
    std::string error;
  };

  // Serves the request whose head the parser holds; false when the connection must close.
  asio::awaitable<bool> serve(AccessRecord& record);
  // Relays the request upstream and the response back, uncached.
  asio::awaitable<bool> forward(AccessRecord& record, const cache::RegistryRequest& classified);
  // Sends `head` to `origin` over `connection` (opened or reopened as needed), with the client's
  // request body when asked, then reads the response head into `response`. Retries once on a
  // stale kept-alive connection.
  asio::awaitable<Exchange> exchange(UpstreamConnection& connection, const Origin& origin, const http::RequestHead& head,
                                     bool with_client_body, http::Parser& response);
  asio::awaitable<Exchange> exchange(const http::RequestHead& head, bool with_client_body, http::Parser& response) {
    // A member, not a temporary: the coroutine keeps a reference to it.
    return exchange(upstream_, registry_, head, with_client_body, response);
  }
  // Follows blob redirects (to a CDN or storage bucket) on `redirected`, without the registry's
  // credentials. Returns the connection holding the final response.
  asio::awaitable<UpstreamConnection*> follow_redirects(AccessRecord& record, Exchange& outcome,
                                                        http::Parser& response, UpstreamConnection& redirected);
  // Streams the response in `response` to the client.
  asio::awaitable<bool> relay_response(AccessRecord& record, http::Parser& response);
  // Answers the client ourselves (errors, the offline version check).
  asio::awaitable<bool> reply(AccessRecord& record, int status, std::string message, bool keep_alive,
                              http::Headers extra = {}, std::string content_type = "text/plain; charset=utf-8");

  // The cache paths (mitm_cache.cpp).
  asio::awaitable<bool> serve_cacheable(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const std::string& key);
  asio::awaitable<bool> serve_hit(AccessRecord& record, cache::CacheStore::Hit& hit);
  asio::awaitable<bool> fill_and_serve(AccessRecord& record, const cache::RegistryRequest& classified,
                                       cache::FillWriter writer);
  asio::awaitable<bool> serve_from_fill(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const std::string& key, std::shared_ptr<cache::Fill> fill);
  asio::awaitable<cache::UpstreamAnswer> revalidate(AccessRecord& record);
  std::optional<std::string> injected_authorization() const;

  ClientStream& client_;
  Services& services_;
  Deadline& deadline_;
  SessionInfo info_;
  Origin registry_;  // the CONNECT target, as an upstream origin
  ReadBuffer buffer_;
  http::Parser parser_;
  UpstreamConnection upstream_;
};

}  // namespace pt
