#include "dockersock/raw_head.hpp"

#include <cctype>

namespace pt::dockersock {
namespace {

bool starts_with_field(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::size_t head_length(std::string_view bytes) {
  const auto end = bytes.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

UpgradeSplit split_upgrade_field(std::string_view head) {
  UpgradeSplit out;
  out.head.reserve(head.size());
  while (!head.empty()) {
    const auto eol = head.find("\r\n");
    const auto line = head.substr(0, eol == std::string_view::npos ? head.size() : eol + 2);
    if (starts_with_field(line, "Upgrade")) {
      if (!out.upgrade) {
        auto value = line.substr(8);
        if (value.ends_with("\r\n")) value.remove_suffix(2);
        out.upgrade = std::string(trim(value));
      }
    } else {
      out.head.append(line);
    }
    head.remove_prefix(line.size());
  }
  return out;
}

int response_status(std::string_view head) {
  if (!head.starts_with("HTTP/1.") || head.size() < 12 || head[8] != ' ') return 0;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(head[i]))) return 0;
    status = status * 10 + (head[i] - '0');
  }
  return status;
}

}  // namespace pt::dockersock
