#include "proxy/ops/setup_scripts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace pt::ops {
namespace {

struct Route {
  std::string_view name;     // /setup/<name>
  std::string_view file;     // scripts/setup/<file>.sh
  std::string_view service;  // the SERVICE default
};

// One script does both: the unit is the only difference between docker and containerd hosts.
constexpr std::array kRoutes = {
    Route{"systemd", "systemd", "docker"},
    Route{"containerd", "systemd", "containerd"},
};

}  // namespace

std::vector<std::string> setup_script_names() {
  std::vector<std::string> names;
  for (const auto& r : kRoutes) names.emplace_back(r.name);
  return names;
}

bool is_safe_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' ||
           c == '_';
  });
}

std::optional<std::string> render_setup_script(std::string_view name, std::string_view host) {
  const auto route = std::find_if(kRoutes.begin(), kRoutes.end(), [&](const Route& r) { return r.name == name; });
  if (route == kRoutes.end() || !is_safe_host(host)) return std::nullopt;
  const auto file = embedded_setup_file(route->file);
  if (!file) return std::nullopt;
  // Defaults go right after the "#!/bin/sh" line; the environment still wins (`sudo NAME=... sh`).
  const auto first_line_end = file->find('\n');
  const auto split = first_line_end == std::string_view::npos ? 0 : first_line_end + 1;
  return fmt::format("{}# Served by pullthrough at http://{}/setup/{}: the defaults below are this proxy as you reached it.\n"
                     ": \"${{PROXY_URL:=http://{}}}\"\n"
                     ": \"${{SERVICE:={}}}\"\n"
                     "{}",
                     file->substr(0, split), host, name, host, route->service, file->substr(split));
}

}  // namespace pt::ops
