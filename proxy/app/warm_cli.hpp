#pragma once
// `pullthrough warm --proxy http://host:3128 [--platform os/arch,...] [--admin-token T] IMAGE...`:
// asks a running proxy to fill its cache with images (POST /admin/warm) and prints its progress.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pt::app {

// argv[0] is "warm". Returns the exit code: 0 when every image was warmed, 1 when one was not (or
// the proxy could not be asked), 2 for a usage error.
int run_warm_cli(int argc, char** argv);

// --proxy: "http://host:port", "host:port" or "host" (port 3128). nullopt when invalid.
struct ProxyAddress {
  std::string host;  // as connected to (IPv6 without brackets)
  std::uint16_t port = 3128;
  std::string authority;  // for the Host header
};
std::optional<ProxyAddress> parse_proxy_address(std::string_view text);

// What the CLI prints for one NDJSON line of the proxy's answer (pure).
struct WarmLineText {
  std::string text;         // empty: print nothing
  bool to_stdout = false;   // results (done, failed, the summary); progress goes to stderr
  bool summary = false;     // the last line: `all_warmed` says how the warm went
  bool all_warmed = false;
};
WarmLineText describe_warm_line(std::string_view line);

}  // namespace pt::app
