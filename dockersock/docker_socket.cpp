#include "dockersock/docker_socket.hpp"

#include "common/logging.hpp"
#include "dockersock/session.hpp"
#include "proxy/http/message_io.hpp"

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace pt::dockersock {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string listen = "/run/pullthrough/docker.sock";
  std::string docker = "/var/run/docker.sock";
  std::string mirror;
  std::string rewrite = "docker.io";
  std::string socket_mode = "0660";
  std::string log_level = "info";
  std::string log_format = "text";
};

// A stale socket file from an earlier run is replaced; anything else at that path is an error
// (never delete a user's file).
void prepare_socket_path(const fs::path& path) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status)) return;
  if (!fs::is_socket(status)) throw std::runtime_error(fmt::format("{} exists and is not a socket", path.string()));
  fs::remove(path);
}

mode_t parse_mode(const std::string& text) {
  std::size_t used = 0;
  unsigned long mode = 0;
  try {
    mode = std::stoul(text, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || mode > 0777) throw std::runtime_error("--socket-mode must be an octal mode like 0660");
  return static_cast<mode_t>(mode);
}

asio::awaitable<void> accept_clients(asio::local::stream_protocol::acceptor& acceptor, const Settings& settings) {
  const auto executor = acceptor.get_executor();
  for (;;) {
    auto [ec, client] = co_await acceptor.async_accept(nothrow_awaitable);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: wait a little rather than spin.
      spdlog::warn("docker-socket: accept: {}", ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow_awaitable);
      continue;
    }
    asio::co_spawn(executor, serve_client(std::move(client), settings), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("docker-socket: client session failed: {}", ex.what());
      }
    });
  }
}

int serve(const Options& options) {
  if (options.mirror.empty()) throw std::runtime_error("--mirror HOST[:PORT] is required");
  // The mirror's name is the first component of the rewritten references: docker reads it as a
  // registry only if it holds '.' or ':' or is localhost (else "mirror/library/x" is a Hub repo).
  const auto& m = options.mirror;
  if (m.find_first_of("/ @") != std::string::npos || (m.find_first_of(".:") == std::string::npos && m != "localhost")) {
    throw std::runtime_error(fmt::format(
        "--mirror {}: expected HOST[:PORT] with a '.' or ':' in it (e.g. mirror.local:5000), no scheme or path", m));
  }
  const auto registries = split_registry_list(options.rewrite);
  Settings settings{.engine = {options.docker}, .policy = RewritePolicy(options.mirror, registries)};
  const mode_t mode = parse_mode(options.socket_mode);
  if (fs::path(options.listen) == fs::path(options.docker)) {
    throw std::runtime_error("--listen and --docker name the same socket");
  }

  asio::io_context io(1);
  prepare_socket_path(options.listen);
  asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(options.listen));
  if (::chmod(options.listen.c_str(), mode) != 0) {
    throw std::runtime_error(fmt::format("chmod {}: {}", options.listen, std::strerror(errno)));
  }
  spdlog::info("docker-socket: serving the Docker Engine API on {} for {}; pulls of {} go via {}", options.listen,
               options.docker, fmt::join(settings.policy.registries(), ","), options.mirror);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("docker-socket: signal {}: stopping", signal);
    io.stop();
  });
  asio::co_spawn(io, accept_clients(acceptor, settings), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("docker-socket: accept loop failed: {}", ex.what());
    }
  });
  io.run();
  std::error_code ignored;
  fs::remove(options.listen, ignored);
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  Options options;
  CLI::App app{"pullthrough docker-socket: serves the Docker Engine API on a unix socket, forwards every call to\n"
               "the real engine socket, and sends image pulls of the listed registries through a pullthrough\n"
               "mirror, tagging each pulled image back to the name the client asked for.",
               "pullthrough docker-socket"};
  app.add_option("--listen", options.listen, "unix socket to serve the Engine API on")
      ->envname("DOCKER_SOCKET_LISTEN")
      ->capture_default_str();
  app.add_option("--docker", options.docker, "the real Docker engine socket")
      ->envname("DOCKER_SOCKET_ENGINE")
      ->capture_default_str();
  app.add_option("--mirror", options.mirror, "the pullthrough mirror listener, HOST[:PORT] (required)")
      ->envname("DOCKER_SOCKET_MIRROR");
  app.add_option("--rewrite", options.rewrite,
                 "registries whose pulls go via the mirror, comma or space separated")
      ->envname("DOCKER_SOCKET_REWRITE")
      ->capture_default_str();
  app.add_option("--socket-mode", options.socket_mode, "permissions of the listening socket (octal)")
      ->envname("DOCKER_SOCKET_MODE")
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--log-format", options.log_format, "text or json")->envname("LOG_FORMAT")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    setup_logging(parse_log_format(options.log_format), options.log_level);
    return serve(options);
  } catch (const std::exception& e) {
    if (spdlog::default_logger()) spdlog::critical("docker-socket: {}", e.what());
    std::fprintf(stderr, "pullthrough docker-socket: %s\n", e.what());
    return 1;
  }
}

}  // namespace pt::dockersock
