#include "cache/registry_policy.hpp"

#include "cache/cache_key.hpp"
#include "common/ascii.hpp"
#include "common/units.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace pt::cache {
namespace {

// The failure of one entry's text; parse() adds which entry it was.
struct EntryError {
  std::string message;
};

std::vector<std::string_view> split_on(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) end = text.size();
    if (const auto piece = trim(text.substr(start, end - start)); !piece.empty()) out.push_back(piece);
    start = end + 1;
  }
  return out;
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const auto start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

// A repository name with '*' wildcards: docker's name characters (lower case), '/' and '*'.
bool is_repository_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() == '/' || pattern.back() == '/') return false;
  return std::all_of(pattern.begin(), pattern.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/' ||
           c == '*';
  });
}

// host[:port], as docker writes registries; the IPv6 brackets are let through.
bool is_registry_name(std::string_view registry) {
  if (registry.empty()) return false;
  return std::all_of(registry.begin(), registry.end(), [](char c) {
    const char l = to_lower(c);
    return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' ||
           c == ']';
  });
}

std::vector<std::string> pattern_list(std::string_view field, std::string_view value) {
  std::vector<std::string> out;
  for (const auto item : split_on(value, ",")) {
    if (!is_repository_pattern(item)) {
      throw EntryError{fmt::format("{}: '{}' is not a repository pattern (lower-case name components, '/' and "
                                   "'*', relative to the registry: library/*)",
                                   field, printable(item))};
    }
    out.emplace_back(item);
  }
  if (out.empty()) throw EntryError{fmt::format("{}: empty list", field)};
  return out;
}

double parse_share(std::string_view value) {
  std::string_view number = value;
  if (!number.ends_with('%')) {
    throw EntryError{fmt::format("max_share: '{}' is not a percentage (1% to 100%)", printable(value))};
  }
  number.remove_suffix(1);
  double percent = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
  if (ec != std::errc{} || end != number.data() + number.size() || !(percent > 0) || percent > 100) {
    throw EntryError{fmt::format("max_share: '{}' is not a percentage (1% to 100%)", printable(value))};
  }
  return percent / 100;
}

std::string format_seconds(std::chrono::seconds s) { return fmt::format("{}s", s.count()); }

}  // namespace

bool matches_repository_pattern(std::string_view pattern, std::string_view name) {
  // Iterative glob with backtracking to the last '*': linear in practice, never recursive.
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

ParseResult<RegistryPolicy> RegistryPolicy::parse(std::string_view text) {
  RegistryPolicy policy;
  std::size_t number = 0;
  for (const auto entry_text : split_on(text, ";\n")) {
    ++number;
    const auto fields = words(entry_text);
    const auto scope = fields.front();  // split_on drops empty entries
    const auto name = [&] { return fmt::format("entry {} ({})", number, printable(scope)); };
    try {
      if (scope.find('=') != std::string_view::npos) {
        throw EntryError{"an entry starts with its registry (docker.io, ghcr.io/myorg/*), then its fields"};
      }
      Entry entry;
      entry.written = std::string(scope);
      const auto slash = scope.find('/');
      const auto registry = scope.substr(0, slash);
      if (!is_registry_name(registry)) throw EntryError{"not a registry name (host or host:port)"};
      entry.registry = key_registry(to_lower(registry));
      if (slash != std::string_view::npos) {
        const auto repository = scope.substr(slash + 1);
        if (!is_repository_pattern(repository)) {
          throw EntryError{fmt::format("'{}' is not a repository pattern", printable(repository))};
        }
        entry.repository = std::string(repository);
      }
      for (std::size_t i = 1; i < fields.size(); ++i) {
        const auto field = fields[i];
        const auto equals = field.find('=');
        if (equals == std::string_view::npos) {
          throw EntryError{fmt::format("'{}': expected field=value (tag_freshness, max_share, allow, deny)",
                                       printable(field))};
        }
        const auto key = field.substr(0, equals);
        const auto value = field.substr(equals + 1);
        if (key == "tag_freshness") {
          if (entry.tag_freshness) throw EntryError{"tag_freshness set twice"};
          try {
            const auto window = pt::parse_duration(value);
            if (window.count() < 0) throw std::invalid_argument("negative");
            entry.tag_freshness = std::chrono::duration_cast<std::chrono::seconds>(window);
          } catch (const std::exception&) {
            throw EntryError{fmt::format("tag_freshness: '{}' is not a duration (30s, 10m, 1h, 7d)", printable(value))};
          }
        } else if (key == "max_share") {
          if (entry.max_share) throw EntryError{"max_share set twice"};
          if (entry.repository != "*") {
            throw EntryError{"max_share is for a whole registry: write it in an entry without a repository pattern"};
          }
          entry.max_share = parse_share(value);
        } else if (key == "allow") {
          const auto patterns = pattern_list("allow", value);
          entry.allow.insert(entry.allow.end(), patterns.begin(), patterns.end());
        } else if (key == "deny") {
          const auto patterns = pattern_list("deny", value);
          entry.deny.insert(entry.deny.end(), patterns.begin(), patterns.end());
        } else {
          throw EntryError{fmt::format("unknown field '{}' (tag_freshness, max_share, allow, deny)", printable(key))};
        }
      }
      if (!entry.tag_freshness && !entry.max_share && entry.allow.empty() && entry.deny.empty()) {
        throw EntryError{"sets nothing (tag_freshness, max_share, allow, deny)"};
      }
      for (const auto& other : policy.entries_) {
        if (entry.max_share && other.max_share && other.registry == entry.registry) {
          throw EntryError{fmt::format("a second max_share for {} (also in '{}')", entry.registry, other.written)};
        }
      }
      policy.entries_.push_back(std::move(entry));
    } catch (const EntryError& e) {
      return ParseResult<RegistryPolicy>::failure(fmt::format("{}: {}", name(), e.message));
    }
  }
  return ParseResult<RegistryPolicy>::success(std::move(policy));
}

std::optional<std::chrono::seconds> RegistryPolicy::tag_freshness(std::string_view registry,
                                                                  std::string_view repository) const {
  for (const auto& entry : entries_) {
    if (entry.tag_freshness && entry.registry == registry && matches_repository_pattern(entry.repository, repository)) {
      return entry.tag_freshness;
    }
  }
  return std::nullopt;
}

std::optional<PolicyDenial> RegistryPolicy::check_access(std::string_view registry,
                                                         std::string_view repository) const {
  const Entry* allowing = nullptr;  // the first entry with an allow list, to name it
  bool allowed = false;
  for (const auto& entry : entries_) {
    if (entry.registry != registry || !matches_repository_pattern(entry.repository, repository)) continue;
    for (const auto& pattern : entry.deny) {
      if (matches_repository_pattern(pattern, repository)) {
        const auto rule = fmt::format("{} deny={}", entry.written, pattern);
        return PolicyDenial{rule, fmt::format("pulling {}/{} through this proxy is denied by its REGISTRY_POLICY ({})",
                                              registry, repository, rule)};
      }
    }
    if (entry.allow.empty()) continue;
    if (!allowing) allowing = &entry;
    allowed = allowed || std::any_of(entry.allow.begin(), entry.allow.end(), [&](const std::string& pattern) {
                return matches_repository_pattern(pattern, repository);
              });
  }
  if (!allowing || allowed) return std::nullopt;
  const auto rule = fmt::format("{} allow={}", allowing->written, fmt::join(allowing->allow, ","));
  return PolicyDenial{rule, fmt::format("{}/{} is not in the repositories this proxy's REGISTRY_POLICY allows ({})",
                                        registry, repository, rule)};
}

std::optional<PolicyDenial> RegistryPolicy::check(std::string_view registry, const RegistryRequest& request) const {
  switch (request.kind) {
    case RequestKind::blob:
    case RequestKind::manifest_by_digest:
    case RequestKind::manifest_by_tag:
    case RequestKind::tag_list:
      return check_access(registry, request.repository);
    default:
      return std::nullopt;
  }
}

std::map<std::string, double> RegistryPolicy::shares() const {
  std::map<std::string, double> out;
  for (const auto& entry : entries_) {
    if (entry.max_share) out[entry.registry] = *entry.max_share;
  }
  return out;
}

std::vector<std::string> RegistryPolicy::describe() const {
  std::vector<std::string> out;
  for (const auto& entry : entries_) {
    std::string line = entry.registry;
    if (entry.repository != "*") line += "/" + entry.repository;
    if (entry.tag_freshness) line += " tag_freshness=" + format_seconds(*entry.tag_freshness);
    if (entry.max_share) line += fmt::format(" max_share={:g}%", *entry.max_share * 100);
    if (!entry.allow.empty()) line += fmt::format(" allow={}", fmt::join(entry.allow, ","));
    if (!entry.deny.empty()) line += fmt::format(" deny={}", fmt::join(entry.deny, ","));
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace pt::cache
