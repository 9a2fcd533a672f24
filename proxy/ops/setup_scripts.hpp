#pragma once
// Host set-up scripts served at GET /setup/<name> (scripts/setup/*.sh, embedded at build time), so
// that `curl -fsSL http://proxy:3128/setup/systemd | sudo sh` configures a Docker host.
//
// The served script gets defaults for PROXY_URL (http://<the Host header the client sent>) and for
// the service it configures, inserted right after its first line; everything else is the file as
// it is in the repository.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::ops {

// The names served under /setup/ ("systemd", "containerd").
std::vector<std::string> setup_script_names();

// True for a Host header value that may be written into a shell script: a host name, IPv4 or
// bracketed IPv6 address, with an optional port. Nothing a shell would interpret.
bool is_safe_host(std::string_view host);

// The script for /setup/<name> with its defaults for a client that reached the proxy as `host`;
// nullopt for an unknown name. `host` must pass is_safe_host().
std::optional<std::string> render_setup_script(std::string_view name, std::string_view host);

// The embedded scripts/setup/*.sh, by file name without ".sh" (generated at build time).
std::optional<std::string_view> embedded_setup_file(std::string_view stem);

}  // namespace pt::ops
