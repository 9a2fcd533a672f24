#include "proxy/ops/prometheus_text.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace pt::ops::prometheus;

TEST_CASE("label values escape backslash, quote and newline only") {
  CHECK(escape_label_value("plain/value:1.0") == "plain/value:1.0");
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(escape_label_value("tab\tstays") == "tab\tstays");
}

TEST_CASE("HELP text escapes backslash and newline, not quotes") {
  CHECK(escape_help("say \"hi\"\\\nbye") == "say \"hi\"\\\\\\nbye");
}

TEST_CASE("sample values: integers exactly, fractions shortest, infinities and NaN spelled out") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(42) == "42");
  CHECK(format_value(1e15) == "1000000000000000");
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(-1.25) == "-1.25");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("a family is HELP then TYPE, samples carry escaped labels in order") {
  TextWriter w;
  w.family("pt_things_total", "counter", "Things.\nMore.");
  w.sample("pt_things_total", {}, std::uint64_t{3});
  w.sample("pt_things_total", {{"a", "x\"y"}, {"b", "2"}}, std::uint64_t{18446744073709551615ull});
  CHECK(w.text() ==
        "# HELP pt_things_total Things.\\nMore.\n"
        "# TYPE pt_things_total counter\n"
        "pt_things_total 3\n"
        "pt_things_total{a=\"x\\\"y\",b=\"2\"} 18446744073709551615\n");
}

TEST_CASE("a histogram has cumulative buckets ending in +Inf, then _sum and _count") {
  TextWriter w;
  w.histogram("pt_latency_seconds", {{"kind", "x"}}, {0.1, 1}, {2, 0, 3}, 7.5);
  CHECK(w.text() ==
        "pt_latency_seconds_bucket{kind=\"x\",le=\"0.1\"} 2\n"
        "pt_latency_seconds_bucket{kind=\"x\",le=\"1\"} 2\n"
        "pt_latency_seconds_bucket{kind=\"x\",le=\"+Inf\"} 5\n"
        "pt_latency_seconds_sum{kind=\"x\"} 7.5\n"
        "pt_latency_seconds_count{kind=\"x\"} 5\n");
}

TEST_CASE("a histogram without observations is all zeros") {
  TextWriter w;
  w.histogram("h", {}, {1}, {}, 0);
  CHECK(w.text() == "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}
