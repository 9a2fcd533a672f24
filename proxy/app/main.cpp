// pullthrough: a caching MITM proxy for container registries. See README.md.
#include "common/logging.hpp"
#include "dockersock/docker_socket.hpp"
#include "proxy/app/app.hpp"
#include "proxy/app/cache_cli.hpp"
#include "proxy/app/config.hpp"
#include "proxy/app/warm_cli.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && std::string_view(argv[1]) == "docker-socket") return pt::dockersock::run(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "cache") return pt::app::run_cache_cli(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "warm") return pt::app::run_warm_cli(argc - 1, argv + 1);
  auto parsed = pt::app::parse_command_line(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  try {
    pt::setup_logging(pt::parse_log_format(parsed.config->log_format), parsed.config->log_level);
    return pt::app::run_proxy(*parsed.config, [argc, argv] { return pt::app::parse_command_line(argc, argv); });
  } catch (const std::exception& e) {
    // Fatal start-up errors: the message says what to fix.
    if (spdlog::default_logger()) spdlog::critical("{}", e.what());
    std::fprintf(stderr, "pullthrough: %s\n", e.what());
    return 1;
  }
}
