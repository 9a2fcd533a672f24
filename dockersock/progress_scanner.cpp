#include "dockersock/progress_scanner.hpp"

#include <nlohmann/json.hpp>

namespace pt::dockersock {

void ProgressScanner::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const auto piece = bytes.substr(0, nl);
    if (!skipping_) {
      if (line_.size() + piece.size() > max_line) {
        skipping_ = true;
        line_.clear();
      } else {
        line_.append(piece);
      }
    }
    if (nl == std::string_view::npos) break;
    if (!skipping_) scan_line(line_);
    line_.clear();
    skipping_ = false;
    bytes.remove_prefix(nl + 1);
  }
}

void ProgressScanner::finish() {
  if (!skipping_) scan_line(line_);
  line_.clear();
  skipping_ = false;
}

void ProgressScanner::scan_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return;
  const auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return;
  ++messages_;
  if (error_) return;
  std::string text;
  if (const auto detail = message.find("errorDetail"); detail != message.end() && detail->is_object()) {
    if (const auto m = detail->find("message"); m != detail->end() && m->is_string()) text = m->get<std::string>();
  }
  if (const auto e = message.find("error"); text.empty() && e != message.end()) {
    text = e->is_string() ? e->get<std::string>() : e->dump();
  }
  if (text.empty() && (message.contains("error") || message.contains("errorDetail"))) text = "pull failed";
  if (!text.empty()) error_ = std::move(text);
}

}  // namespace pt::dockersock
