#pragma once
// The two time formats S3 speaks. We write the compact ISO 8601 basic form of x-amz-date
// ("20130524T000000Z", always UTC) and the date stamp of the credential scope ("20130524"); we read
// the extended form of the XML listings ("2009-10-12T17:50:30.000Z").
#include "common/parse_result.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace pt::s3 {

using TimePoint = std::chrono::system_clock::time_point;

std::string amz_date(TimePoint time);   // YYYYMMDD'T'HHMMSS'Z', sub-seconds dropped
std::string date_stamp(TimePoint time);  // YYYYMMDD

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00|-00:00)"; other offsets are applied. Never throws: the
// text comes from the server. Fractions are kept to the millisecond.
ParseResult<TimePoint> parse_iso8601(std::string_view text);

}  // namespace pt::s3
