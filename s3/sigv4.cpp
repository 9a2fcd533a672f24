#include "s3/sigv4.hpp"

#include "common/ascii.hpp"
#include "s3/uri_encode.hpp"

#include <algorithm>
#include <stdexcept>

namespace pt::s3 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// RFC 9110 token characters: a header name anything else would be a malformed request.
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_signed(std::string_view lower_name, HeaderSelection selection) {
  if (selection == HeaderSelection::all) return true;
  return lower_name == "host" || lower_name == "content-type" || lower_name == "content-md5" ||
         lower_name == "range" || lower_name.starts_with("x-amz-");
}

// Trimmed, each run of blanks one space: what AWS calls Trimall.
std::string trimall(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool blank = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string canonical_query(std::span<const QueryParam> query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& q : query) encoded.emplace_back(uri_encode(q.name), uri_encode(q.value));
  // Sorted by the encoded bytes (that is what the server re-derives), name first, then value.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

CanonicalHeaders canonical_headers(std::span<const Header> headers, HeaderSelection selection) {
  std::vector<std::pair<std::string, std::string>> chosen;
  for (const auto& h : headers) {
    auto name = to_lower(h.name);
    if (is_signed(name, selection)) chosen.emplace_back(std::move(name), trimall(h.value));
  }
  // Stable: the values of a repeated header keep the order they were given in.
  std::stable_sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (i > 0 && chosen[i].first == chosen[i - 1].first) {
      out.text.back() = ',';  // replaces the previous line's '\n'
    } else {
      if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
      out.signed_headers += chosen[i].first;
      out.text += chosen[i].first;
      out.text.push_back(':');
    }
    out.text += chosen[i].second;
    out.text.push_back('\n');
  }
  return out;
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query, const CanonicalHeaders& headers,
                              std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + canonical_uri.size() + canonical_query.size() + headers.text.size() +
              headers.signed_headers.size() + payload_hash.size() + 8);
  out.append(method).append("\n");
  out.append(canonical_uri).append("\n");
  out.append(canonical_query).append("\n");
  out.append(headers.text).append("\n");  // the header block's own last '\n', then the separator
  out.append(headers.signed_headers).append("\n");
  out.append(payload_hash);
  return out;
}

std::string credential_scope(TimePoint time, std::string_view region, std::string_view service) {
  std::string out = date_stamp(time);
  out.append("/").append(region).append("/").append(service).append("/aws4_request");
  return out;
}

std::string string_to_sign(TimePoint time, std::string_view scope, std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date(time));
  out.append("\n").append(scope);
  out.append("\n").append(sha256_hex(canonical_request));
  return out;
}

Sha256 signing_key(std::string_view secret_access_key, TimePoint time, std::string_view region,
                   std::string_view service) {
  const std::string seed = "AWS4" + std::string(secret_access_key);
  const auto k_date = hmac_sha256(seed, date_stamp(time));
  const auto k_region = hmac_sha256(k_date, region);
  const auto k_service = hmac_sha256(k_region, service);
  return hmac_sha256(k_service, "aws4_request");
}

std::string signature_hex(const Sha256& key, std::string_view string_to_sign) {
  return to_hex(hmac_sha256(key, string_to_sign));
}

Signature sign(const SigningRequest& request, const AccessKey& key) {
  bool has_host = false;
  for (const auto& h : request.headers) {
    if (!is_token(h.name)) throw std::invalid_argument("SigV4: a header name that is not a token");
    if (h.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      throw std::invalid_argument("SigV4: the value of " + h.name + " holds CR, LF or NUL");
    }
    const auto name = to_lower(h.name);
    if (name == "host") has_host = true;
    // Headers sign() adds itself: a second copy would be signed joined with ours, and refused.
    const bool ours = name == "x-amz-date" || name == "authorization" ||
                      (name == "x-amz-content-sha256" && request.add_content_sha256) ||
                      (name == "x-amz-security-token" && key.session_token);
    if (ours) throw std::invalid_argument("SigV4: the request already holds " + name + ", which the signer sets");
  }
  if (!has_host) throw std::invalid_argument("SigV4: the request has no Host header");
  if (request.payload_hash.empty()) throw std::invalid_argument("SigV4: no payload hash");

  Signature out;
  out.added.push_back({"x-amz-date", amz_date(request.time)});
  if (request.add_content_sha256) out.added.push_back({"x-amz-content-sha256", std::string(request.payload_hash)});
  if (key.session_token) out.added.push_back({"x-amz-security-token", *key.session_token});

  Headers all(request.headers.begin(), request.headers.end());
  all.insert(all.end(), out.added.begin(), out.added.end());
  const auto headers = canonical_headers(all, request.selection);
  out.signed_headers = headers.signed_headers;
  out.canonical_request = canonical_request(request.method, request.canonical_uri, canonical_query(request.query),
                                            headers, request.payload_hash);
  const auto scope = credential_scope(request.time, request.region, request.service);
  out.string_to_sign = string_to_sign(request.time, scope, out.canonical_request);
  out.signature = signature_hex(signing_key(key.secret_access_key, request.time, request.region, request.service),
                                out.string_to_sign);
  out.authorization = std::string(kAlgorithm) + " Credential=" + key.access_key_id + "/" + scope +
                      ", SignedHeaders=" + out.signed_headers + ", Signature=" + out.signature;
  return out;
}

}  // namespace pt::s3
