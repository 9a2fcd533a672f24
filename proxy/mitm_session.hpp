#pragma once
// The HTTP/1.1 conversation inside an intercepted CONNECT: the client's requests, decrypted with
// our leaf certificate, are served one after another (keep-alive), each relayed to the real
// registry over TLS, or answered from the cache.
#include "proxy/access_log.hpp"
#include "proxy/deadline.hpp"
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
  // Serves the request whose head the parser holds; false when the connection must close.
  asio::awaitable<bool> serve(AccessRecord& record);
  asio::awaitable<bool> forward(AccessRecord& record);
  asio::awaitable<bool> reply(AccessRecord& record, int status, std::string message, bool keep_alive);

  ClientStream& client_;
  Services& services_;
  Deadline& deadline_;
  SessionInfo info_;
  ReadBuffer buffer_;
  http::Parser parser_;
  UpstreamConnection upstream_;
};

}  // namespace pt
