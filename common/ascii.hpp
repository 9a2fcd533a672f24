#pragma once
// ASCII-only text helpers for host names and configuration lists. Host names and the settings that
// carry them are ASCII by definition, so locale-aware functions would only add surprises.
#include <string>
#include <string_view>
#include <vector>

namespace pt {

char to_lower(char c);
std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view text, std::string_view prefix);

bool is_space(char c);
std::string_view trim(std::string_view text);

// Splits a list written as "a b,c\nd": any run of whitespace and commas separates items; empty
// items are dropped. This is how REGISTRIES-style settings are written in compose files and
// Kubernetes manifests alike.
std::vector<std::string_view> split_list(std::string_view text);

// Splits on runs of whitespace only (items may hold commas: "registry=a,b other=c").
std::vector<std::string_view> split_words(std::string_view text);

// Splits on every occurrence of `delimiter` (must be non-empty), keeping empty pieces.
std::vector<std::string_view> split_exact(std::string_view text, std::string_view delimiter);

// Makes configuration text safe to put in an error message or log line: control characters become
// '?', and text longer than `max_length` is cut with "...". Never use it on secrets: it does not
// hide anything, it only keeps log lines intact.
std::string printable(std::string_view text, std::size_t max_length = 120);

}  // namespace pt
