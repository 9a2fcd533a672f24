#pragma once
// The calls the Docker-socket mode makes to the engine on its own behalf (inspect an image, pull
// it from the mirror, tag it): one short connection each, so they never interfere with the
// client's own connection.
#include <asio/awaitable.hpp>
#include <asio/local/stream_protocol.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace pt::dockersock {

using LocalSocket = asio::local::stream_protocol::socket;

// The engine's API socket. Connect failures become a message for the client.
struct EngineEndpoint {
  std::string path;
};

struct EngineReply {
  std::error_code ec;   // could not connect, or the connection failed mid-reply
  int status = 0;
  std::string body;     // up to 1 MiB of it (the rest is still passed to on_body)
  // The engine's own {"message": ...}, the body, or what went wrong on the way.
  std::string message() const;
};

// Opens a connection to the engine.
asio::awaitable<std::error_code> connect_engine(const EngineEndpoint& engine, LocalSocket& socket);

// One request (Connection: close); the body is streamed to `on_body` when given.
asio::awaitable<EngineReply> engine_call(const EngineEndpoint& engine, std::string_view method, std::string target,
                                         std::string body = {},
                                         std::function<void(std::string_view)> on_body = {});

// The engine's way to report an error: {"message":"..."}.
std::string engine_error_json(std::string_view message);

}  // namespace pt::dockersock
