#include "s3/store_location.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"
#include "s3/uri_encode.hpp"

#include <stdexcept>

namespace pt::s3 {

namespace {

constexpr std::size_t kMaxKeyBytes = 1024;  // S3's limit on a key, prefix included
constexpr std::size_t kMaxPrefixBytes = 512;

[[noreturn]] void fail(std::string_view setting, std::string_view why) {
  throw std::invalid_argument(std::string(setting) + ": " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<bool> parse_bool(std::string_view text) {
  const auto t = to_lower(trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

// Why a '/'-separated path of keys would not survive the trip, or "" when it would.
std::string_view segments_problem(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.front() == '/') return "starts with '/'";
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    const auto segment = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) return "has an empty segment (\"//\" or a trailing '/')";
    if (segment == "." || segment == "..") return "has a \".\" or \"..\" segment";
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

std::string_view region_problem(std::string_view region) {
  if (region.empty() || region.size() > 64) return "must be 1 to 64 characters";
  for (const char c : region) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
    if (!ok) return "may hold only letters, digits, '-' and '_'";
  }
  return {};
}

std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

std::string_view bucket_name_problem(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return "a bucket name has 3 to 63 characters";
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '.' || c == '-')) {
      return "a bucket name holds only lower-case letters, digits, '.' and '-'";
    }
  }
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c); };
  if (!alnum(name.front()) || !alnum(name.back())) return "a bucket name starts and ends with a letter or digit";
  if (name.find("..") != std::string_view::npos) return "a bucket name has no \"..\"";
  if (canonical_ip_literal(name)) return "a bucket name is not an IP address";
  return {};
}

std::string Endpoint::host_header() const {
  std::string name = path_style ? host : bucket + "." + host;
  return format_authority(name, port == default_port(scheme) ? std::nullopt : std::optional<std::uint16_t>(port));
}

std::string Endpoint::full_key(std::string_view key) const {
  if (prefix.empty()) return std::string(key);
  return prefix + "/" + std::string(key);
}

std::optional<std::string> Endpoint::relative_key(std::string_view full) const {
  if (prefix.empty()) return std::string(full);
  if (full.size() <= prefix.size() + 1 || !full.starts_with(prefix) || full[prefix.size()] != '/') return std::nullopt;
  return std::string(full.substr(prefix.size() + 1));
}

std::string Endpoint::object_path(std::string_view key) const {
  for (const char c : key) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      throw std::invalid_argument("S3 object key: not printable ASCII");
    }
  }
  if (const auto why = segments_problem(key); !why.empty()) {
    throw std::invalid_argument("S3 object key " + std::string(why));
  }
  const auto full = full_key(key);
  if (full.size() > kMaxKeyBytes) throw std::invalid_argument("S3 object key: longer than 1024 bytes");
  const auto encoded = uri_encode(full, Slash::keep);
  return path_style ? "/" + bucket + "/" + encoded : "/" + encoded;
}

std::string Endpoint::bucket_path() const { return path_style ? "/" + bucket : "/"; }

std::string Endpoint::describe() const {
  std::string out = scheme + "://" + format_authority(host, port == default_port(scheme) ? std::nullopt : std::optional<std::uint16_t>(port));
  out += " bucket " + bucket;
  if (!prefix.empty()) out += " prefix " + prefix;
  out += path_style ? " (path style)" : " (virtual-host style)";
  return out;
}

Endpoint parse_store_location(const StoreSettings& settings) {
  Endpoint out;

  // BLOB_STORE=s3://bucket[/prefix]
  const auto store = trim(settings.blob_store);
  if (store.empty()) fail("BLOB_STORE", "empty (the local store needs no S3 endpoint)");
  if (!istarts_with(store, "s3://")) fail("BLOB_STORE", "expected s3://BUCKET[/PREFIX]");
  auto rest = store.substr(5);
  const auto slash = rest.find('/');
  const auto bucket = rest.substr(0, slash);
  if (const auto why = bucket_name_problem(bucket); !why.empty()) {
    fail("BLOB_STORE", std::string(why) + " ('" + printable(bucket, 80) + "')");
  }
  out.bucket = std::string(bucket);
  if (slash != std::string_view::npos) {
    auto prefix = rest.substr(slash + 1);
    if (prefix.ends_with('/')) prefix.remove_suffix(1);  // "s3://bucket/cache/" is a common way to write it
    if (!prefix.empty()) {
      for (const char c : prefix) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_' || c == '.' ||
              c == '/')) {
          fail("BLOB_STORE", "the prefix may hold only letters, digits, '-', '_', '.' and '/'");
        }
      }
      if (const auto why = segments_problem(prefix); !why.empty()) fail("BLOB_STORE", "the prefix " + std::string(why));
      if (prefix.size() > kMaxPrefixBytes) fail("BLOB_STORE", "the prefix is longer than 512 characters");
      out.prefix = std::string(prefix);
    }
  }

  // S3_REGION
  const auto region = trim(settings.region);
  out.region = region.empty() ? "us-east-1" : std::string(region);
  if (const auto why = region_problem(out.region); !why.empty()) fail("S3_REGION", why);

  // S3_ENDPOINT
  const auto endpoint = trim(settings.endpoint);
  if (endpoint.empty()) {
    out.scheme = "https";
    out.host = "s3." + out.region + ".amazonaws.com";
    out.port = 443;
  } else {
    std::string_view authority;
    if (istarts_with(endpoint, "https://")) {
      out.scheme = "https";
      authority = endpoint.substr(8);
    } else if (istarts_with(endpoint, "http://")) {
      out.scheme = "http";
      authority = endpoint.substr(7);
    } else {
      fail("S3_ENDPOINT", "expected http://HOST[:PORT] or https://HOST[:PORT]");
    }
    if (authority.ends_with('/')) authority.remove_suffix(1);
    if (authority.find_first_of("/?#@") != std::string_view::npos) {
      fail("S3_ENDPOINT", "expected only a scheme, a host and a port (no path, query or user)");
    }
    const auto parsed = parse_authority(authority);
    if (!parsed) fail("S3_ENDPOINT", parsed.error + " ('" + printable(authority, 80) + "')");
    out.host = parsed->host;
    out.port = parsed->port.value_or(default_port(out.scheme));
  }

  // S3_PATH_STYLE
  const bool ip_host = canonical_ip_literal(out.host).has_value();
  if (trim(settings.path_style).empty()) {
    // On by default with S3_ENDPOINT (RGW, MinIO). On AWS too for a bucket with dots over TLS: the
    // virtual host "a.b.s3.amazonaws.com" would not match the certificate's "*.s3.amazonaws.com".
    out.path_style = !endpoint.empty() || out.bucket.find('.') != std::string::npos || ip_host;
  } else {
    const auto value = parse_bool(settings.path_style);
    if (!value) fail("S3_PATH_STYLE", "expected true or false");
    out.path_style = *value;
    if (!out.path_style && ip_host) {
      fail("S3_PATH_STYLE", "virtual-host style needs a host name in S3_ENDPOINT, not an IP address");
    }
  }
  return out;
}

}  // namespace pt::s3
