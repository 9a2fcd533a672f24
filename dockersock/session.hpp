#pragma once
// One client connection of the Docker-socket mode: reads the client's Engine API requests,
// forwards each on its own connection to the real engine, streams the answer back, and sends
// image pulls of the rewritten registries through the mirror (then tags the image back to the
// name the client asked for).
#include "dockersock/engine_client.hpp"
#include "dockersock/pull_rewrite.hpp"

#include <asio/awaitable.hpp>

namespace pt::dockersock {

struct Settings {
  EngineEndpoint engine;
  RewritePolicy policy;
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t max_create_body = 16 * 1024 * 1024;  // a containers/create body is read whole
};

// Serves one accepted client until it closes; the frame owns the socket.
asio::awaitable<void> serve_client(LocalSocket client, const Settings& settings);

}  // namespace pt::dockersock
