#include "common/logging.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <iterator>
#include <stdexcept>

namespace pt {
namespace {

std::atomic<LogFormat> g_format{LogFormat::text};

// Formats every record as {"ts":...,"level":...,"msg":...}. Messages that already are a JSON object
// (structured events from log_event) are merged instead of quoted.
class JsonFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    nlohmann::json line;
    line["ts"] = timestamp(msg.time);
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    auto parsed = payload.starts_with('{') ? nlohmann::json::parse(payload, nullptr, false)
                                          : nlohmann::json(nlohmann::json::value_t::discarded);
    if (parsed.is_object()) {
      for (auto& [k, v] : parsed.items()) line[k] = v;
    } else {
      line["msg"] = payload;
    }
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

private:
  static std::string timestamp(spdlog::log_clock::time_point tp) {
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp - secs).count();
    const std::time_t t = spdlog::log_clock::to_time_t(tp);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03}Z", buf, ms);
  }
};

// Quote values that would make the line ambiguous to split on spaces.
bool needs_quotes(std::string_view s) { return s.empty() || s.find_first_of(" \"=") != std::string_view::npos; }

// " key=": what every field starts with.
void append_key(std::string& line, std::string_view key) {
  line += ' ';
  line += key;
  line += '=';
}

}  // namespace

LogFormat parse_log_format(std::string_view text) {
  if (text == "text" || text == "plain" || text.empty()) return LogFormat::text;
  if (text == "json") return LogFormat::json;
  throw std::invalid_argument("invalid LOG_FORMAT '" + std::string(text) + "' (use text or json)");
}

void setup_logging(LogFormat format, std::string_view level) {
  auto logger = std::make_shared<spdlog::logger>("pullthrough", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == LogFormat::json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  }
  const auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw std::invalid_argument("invalid LOG_LEVEL '" + std::string(level) + "' (use trace, debug, info, warn, error)");
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  g_format = format;
}

LogFormat current_log_format() { return g_format; }

void log_event(std::string_view message, const nlohmann::ordered_json& fields) {
  if (g_format == LogFormat::json) {
    nlohmann::ordered_json obj = fields;
    obj["msg"] = message;
    spdlog::info("{}", obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line(message);
  for (auto& [k, v] : fields.items()) {
    if (v.is_string()) {
      append_text_field(line, k, v.get_ref<const std::string&>());
    } else {
      fmt::format_to(std::back_inserter(line), " {}={}", k, v.dump());
    }
  }
  spdlog::info("{}", line);
}

void append_text_field(std::string& line, std::string_view key, std::string_view value) {
  append_key(line, key);
  if (needs_quotes(value)) {
    line += nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line += value;
  }
}

void append_text_field(std::string& line, std::string_view key, std::uint64_t value) {
  // format_int, not format_to(back_inserter(line)): one per request field, and the iterator path
  // showed up in the profile of a HEAD storm.
  const fmt::format_int digits(value);
  append_key(line, key);
  line.append(digits.data(), digits.size());
}

}  // namespace pt
