#pragma once
// Writer for the Prometheus text exposition format, version 0.0.4: "# HELP" and "# TYPE" lines,
// then samples "name{label="value",...} number". Knows only the format's escaping and number
// rules, nothing about what pullthrough measures (that is metrics.cpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::ops::prometheus {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value with \, " and newline escaped (\\, \", \n).
std::string escape_label_value(std::string_view value);
// HELP text with \ and newline escaped (\\, \n); quotes stay as they are.
std::string escape_help(std::string_view text);
// A sample value: integers exactly, other numbers in the shortest form that reads back the same;
// +Inf, -Inf and NaN as the format spells them.
std::string format_value(double value);

class TextWriter {
public:
  // Starts a metric family: its HELP and TYPE lines. `type`: counter, gauge, histogram, untyped.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, std::uint64_t value);
  void sample(std::string_view name, const Labels& labels, double value);

  // A histogram's samples: `upper_bounds` ascending (without +Inf), `counts` per bucket, not
  // cumulative, with one more element than `upper_bounds` for the observations above the last
  // bound. Writes the cumulative _bucket{le} lines, +Inf included, then _sum and _count.
  void histogram(std::string_view name, const Labels& labels, const std::vector<double>& upper_bounds,
                 const std::vector<std::uint64_t>& counts, double sum);

  const std::string& text() const noexcept { return out_; }

private:
  void sample_line(std::string_view name, const Labels& labels, std::string_view value);

  std::string out_;
};

}  // namespace pt::ops::prometheus
