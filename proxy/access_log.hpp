#pragma once
// One log line per request handled inside an intercepted connection (and per tunnel): who asked
// for what, what came back, how big, how long, and where it was served from.
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace pt {

struct AccessRecord {
  std::uint64_t session = 0;
  std::string client;       // ip:port
  std::string host;         // registry host[:port]
  std::string method;
  std::string path;         // without the query string: it may carry account names
  int status = 0;           // 0: no response was sent
  std::uint64_t bytes = 0;  // body bytes sent to the client
  std::chrono::steady_clock::duration duration{};
  std::string cache;        // HIT, MISS, REVALIDATED, STALE, BYPASS, TUNNEL, LOCAL
  std::string error;        // why it failed, when it did
};

void log_access(const AccessRecord& record);

// The client of a connection as logged: "ip:port", "[v6]:port", or "?" once it is gone.
std::string peer_text(const asio::ip::tcp::socket& socket);

// The path of a request target without its query string.
std::string path_of(std::string_view target);

}  // namespace pt
