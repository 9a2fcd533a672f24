#pragma once
// Process-wide logging: human-readable lines by default, one JSON object per line with
// LOG_FORMAT=json (for log shippers). Everything logs through spdlog's default logger.
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace pt {

enum class LogFormat { text, json };

LogFormat parse_log_format(std::string_view text);  // throws std::invalid_argument

// Installs the default logger on stderr. `level` is an spdlog level name (info, debug, ...).
void setup_logging(LogFormat format, std::string_view level);

LogFormat current_log_format();

// Logs one structured event: in JSON mode `fields` become top-level keys beside ts/level/msg; in
// text mode they are appended as key=value pairs after the message.
void log_event(std::string_view message, const nlohmann::ordered_json& fields);

// Text mode's ` key=value`, appended to `line` without building a JSON object first: for lines
// written on every request (the access log), where that object was a tenth of a HEAD's CPU.
// Values that would make the line ambiguous (empty, spaces, quotes, '=') are JSON-quoted, as
// log_event does.
void append_text_field(std::string& line, std::string_view key, std::string_view value);
void append_text_field(std::string& line, std::string_view key, std::uint64_t value);

}  // namespace pt
