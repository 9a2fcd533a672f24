#include "proxy/registry/mirror_tokens.hpp"

#include "proxy/http/message.hpp"

#include <nlohmann/json.hpp>

#include <cctype>

namespace pt::registry {
namespace {

void skip_spaces(std::string_view& text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == ',')) text.remove_prefix(1);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::optional<BearerChallenge> parse_bearer_challenge(std::string_view header) {
  skip_spaces(header);
  if (header.size() < 6 || !http::iequals(header.substr(0, 6), "bearer")) return std::nullopt;
  header.remove_prefix(6);
  if (!header.empty() && header.front() != ' ' && header.front() != '\t') return std::nullopt;

  BearerChallenge challenge;
  for (;;) {
    skip_spaces(header);
    if (header.empty()) break;
    const auto equals = header.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    std::string name = lower(header.substr(0, equals));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    header.remove_prefix(equals + 1);
    std::string value;
    if (!header.empty() && header.front() == '"') {
      header.remove_prefix(1);
      bool closed = false;
      while (!header.empty()) {
        const char c = header.front();
        header.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && !header.empty()) {
          value += header.front();
          header.remove_prefix(1);
          continue;
        }
        value += c;
      }
      if (!closed) return std::nullopt;
    } else {
      const auto end = header.find(',');
      value = std::string(header.substr(0, end));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      header.remove_prefix(end == std::string_view::npos ? header.size() : end);
    }
    if (name == "realm") challenge.realm = value;
    if (name == "service") challenge.service = value;
    if (name == "scope") challenge.scope = value;
  }
  if (challenge.realm.empty()) return std::nullopt;
  return challenge;
}

std::string token_query(const BearerChallenge& challenge) {
  std::string query;
  if (!challenge.service.empty()) query = "service=" + percent_encode(challenge.service);
  // Several scopes are separated by spaces in the challenge and sent as repeated parameters.
  std::string_view scopes = challenge.scope;
  while (!scopes.empty()) {
    const auto space = scopes.find(' ');
    const auto scope = scopes.substr(0, space);
    if (!scope.empty()) {
      if (!query.empty()) query += '&';
      query += "scope=" + percent_encode(scope);
    }
    if (space == std::string_view::npos) break;
    scopes.remove_prefix(space + 1);
  }
  return query;
}

std::optional<IssuedToken> parse_token_response(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  IssuedToken issued;
  for (const char* field : {"token", "access_token"}) {
    if (auto it = json.find(field); it != json.end() && it->is_string() && !it->get<std::string>().empty()) {
      issued.token = it->get<std::string>();
      break;
    }
  }
  if (issued.token.empty()) return std::nullopt;
  if (auto it = json.find("expires_in"); it != json.end() && it->is_number_integer()) {
    const auto seconds = it->get<std::int64_t>();
    if (seconds > 0) issued.expires_in = std::chrono::seconds(std::min<std::int64_t>(seconds, 24 * 3600));
  }
  return issued;
}

std::optional<std::string> TokenCache::find(const std::string& registry, const std::string& scope,
                                            clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find({registry, scope});
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void TokenCache::store(const std::string& registry, const std::string& scope, const IssuedToken& token,
                       clock::time_point now) {
  // Ten seconds of margin, or half the lifetime for very short-lived tokens.
  const auto margin = std::min<clock::duration>(std::chrono::seconds(10), token.expires_in / 2);
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries) {
    for (auto it = entries_.begin(); it != entries_.end();) it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    if (entries_.size() >= max_entries) entries_.clear();
  }
  entries_[{registry, scope}] = Entry{token.token, now + token.expires_in - margin};
}

void TokenCache::forget(const std::string& registry, const std::string& scope) {
  std::lock_guard lock(mutex_);
  entries_.erase({registry, scope});
}

}  // namespace pt::registry
