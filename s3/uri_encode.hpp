#pragma once
// URI encoding as SigV4 defines it ("UriEncode" in the S3 signing guide), used both for the
// request target we send and for the canonical request we sign: the two must be byte-identical,
// so one function makes both.
//
// Unreserved characters (A-Z a-z 0-9 - . _ ~) stay; every other byte becomes %XX with upper-case
// hex. Unlike form encoding, a space is %20 (never '+') and '+' itself is %2B; '/' is kept only in
// object key paths, never in query names or values.
#include <string>
#include <string_view>

namespace pt::s3 {

enum class Slash { keep, encode };

std::string uri_encode(std::string_view text, Slash slash = Slash::encode);

}  // namespace pt::s3
