#include "proxy/ops/prometheus_text.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace pt::ops::prometheus {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers as integers (no exponent up to 2^53, where doubles stop being exact).
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);  // shortest round-trip form, e.g. 0.005 or 1e-07
}

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

void TextWriter::sample(std::string_view name, const Labels& labels, std::uint64_t value) {
  sample_line(name, labels, std::to_string(value));
}

void TextWriter::sample(std::string_view name, const Labels& labels, double value) {
  sample_line(name, labels, format_value(value));
}

void TextWriter::histogram(std::string_view name, const Labels& labels, const std::vector<double>& upper_bounds,
                           const std::vector<std::uint64_t>& counts, double sum) {
  std::uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i <= upper_bounds.size(); ++i) {
    if (i < counts.size()) cumulative += counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < upper_bounds.size() ? format_value(upper_bounds[i])
                                                       : format_value(std::numeric_limits<double>::infinity()));
    sample(bucket, with_le, cumulative);
  }
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, cumulative);
}

void TextWriter::sample_line(std::string_view name, const Labels& labels, std::string_view value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += label;
      out_ += "=\"";
      out_ += escape_label_value(label_value);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

}  // namespace pt::ops::prometheus
