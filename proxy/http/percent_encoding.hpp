#pragma once
// Percent-encoding of request targets and their queries (RFC 3986), the one implementation for
// the admin API's paths, the mirror's ns= parameter and the Engine API's queries.
#include <optional>
#include <string>
#include <string_view>

namespace pt::http {

// How '+' reads: itself in a path, a space in a query (HTML form encoding, which clients use there).
enum class Plus { literal, space };

// %XX decoded; nullopt for a broken escape ("%4", "%zz") or an encoded NUL, which no name, path or
// value the proxy handles may hold.
std::optional<std::string> percent_decode(std::string_view text, Plus plus = Plus::literal);

// Everything but RFC 3986's unreserved characters (letters, digits, "-._~") as %XX.
std::string percent_encode(std::string_view text);

}  // namespace pt::http
