#include "s3/amz_time.hpp"

#include <cstdio>
#include <optional>

namespace pt::s3 {

namespace {

using namespace std::chrono;

struct Civil {
  int year;
  unsigned month, day;
  long hours, minutes, seconds;
};

Civil civil(TimePoint time) {
  const auto secs = floor<seconds>(time);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
          static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
          static_cast<long>(hms.seconds().count())};
}

// Exactly `n` decimal digits at `text[at]`.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string amz_date(TimePoint time) {
  const auto c = civil(time);
  char out[32];
  std::snprintf(out, sizeof out, "%04d%02u%02uT%02ld%02ld%02ldZ", c.year, c.month, c.day, c.hours, c.minutes,
                c.seconds);
  return out;
}

std::string date_stamp(TimePoint time) {
  const auto c = civil(time);
  char out[16];
  std::snprintf(out, sizeof out, "%04d%02u%02u", c.year, c.month, c.day);
  return out;
}

ParseResult<TimePoint> parse_iso8601(std::string_view text) {
  using R = ParseResult<TimePoint>;
  // 2009-10-12T17:50:30
  const auto y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  const auto h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':') {
    return R::failure("not an ISO 8601 date and time");
  }
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  // system_clock counts nanoseconds in 64 bits: years 1678 to 2261 only. Keep well inside.
  if (!ymd.ok() || *y < 1900 || *y > 2200 || *h > 23 || *mi > 59 || *s > 60) {
    return R::failure("an ISO 8601 date and time out of range");
  }
  std::size_t at = 19;
  milliseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    const std::size_t start = at;
    int scale = 100;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += milliseconds{(text[at] - '0') * scale};
      scale /= 10;
      ++at;
    }
    if (at == start || at - start > 12) return R::failure("a bad fraction of a second");
  }
  minutes offset{0};
  const std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const auto oh = digits(zone, 1, 2), om = digits(zone, 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return R::failure("a bad time zone offset");
    offset = hours{*oh} + minutes{*om};
    if (zone[0] == '-') offset = -offset;
  } else {
    return R::failure("no time zone (Z) in an ISO 8601 date and time");
  }
  // A leap second (:60) is read as the next second, as POSIX time does.
  const auto when = sys_days{ymd} + hours{*h} + minutes{*mi} + seconds{*s} + fraction - offset;
  return R::success(time_point_cast<system_clock::duration>(when));
}

}  // namespace pt::s3
