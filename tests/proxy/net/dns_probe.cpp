// dns_probe: resolves names through pt::net::DnsResolver, for tests/integration/test_resolvers.sh.
//
//   dns_probe --servers "ip[:port] ..." [--total-ms N] [--try-ms N] [--tries N]
//             [--min-ttl-s N] [--rounds N] [--pause-ms N] [--concurrent N] NAME...
//
// Each round resolves every NAME `concurrent` times at once (single-flight), rounds one after the
// other (the cache), `pause` apart. One line per lookup:  NAME ok ADDR[,ADDR...] MS  or  NAME error MS MESSAGE.
// Exit status: 0 when it ran, 2 for bad arguments (the resolver's message on stderr).
#include "proxy/net/dns_resolver.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string servers;
  pt::net::DnsResolverOptions options;
  int rounds = 1;
  std::chrono::milliseconds pause{0};
  int concurrent = 1;
  std::vector<std::string> names;
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--servers") {
      args.servers = value();
    } else if (arg == "--total-ms") {
      args.options.total_timeout = std::chrono::milliseconds(std::stoi(value()));
    } else if (arg == "--try-ms") {
      args.options.try_timeout = std::chrono::milliseconds(std::stoi(value()));
    } else if (arg == "--tries") {
      args.options.tries = std::stoi(value());
    } else if (arg == "--min-ttl-s") {
      args.options.min_ttl = std::chrono::seconds(std::stoi(value()));
    } else if (arg == "--pause-ms") {
      args.pause = std::chrono::milliseconds(std::stoi(value()));
    } else if (arg == "--rounds") {
      args.rounds = std::stoi(value());
    } else if (arg == "--concurrent") {
      args.concurrent = std::stoi(value());
    } else if (arg.starts_with("--")) {
      throw std::invalid_argument("unknown option " + arg);
    } else {
      args.names.push_back(arg);
    }
  }
  if (args.names.empty()) throw std::invalid_argument("no name to resolve");
  return args;
}

asio::awaitable<void> probe(const pt::net::DnsResolver& resolver, std::string name) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = co_await resolver.resolve(name);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (result.ok()) {
    std::string addresses;
    for (const auto& address : result.addresses) {
      if (!addresses.empty()) addresses += ',';
      addresses += address.to_string();
    }
    fmt::print("{} ok {} {}\n", name, addresses, ms);
  } else {
    fmt::print("{} error {} {}\n", name, ms, result.error);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::unique_ptr<pt::net::DnsResolver> resolver;
  try {
    args = parse_args(argc, argv);
    resolver = std::make_unique<pt::net::DnsResolver>(args.servers, args.options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "dns_probe: {}\n", e.what());
    return 2;
  }

  int failures = 0;
  for (int round = 0; round < args.rounds; ++round) {
    if (round > 0) std::this_thread::sleep_for(args.pause);
    asio::io_context io;
    for (const auto& name : args.names) {
      for (int i = 0; i < args.concurrent; ++i) {
        asio::co_spawn(io, probe(*resolver, name), [&failures](std::exception_ptr error) {
          if (!error) return;
          ++failures;
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            fmt::print(stderr, "dns_probe: lookup threw: {}\n", e.what());
          }
        });
      }
    }
    io.run();
  }
  return failures ? 1 : 0;
}
