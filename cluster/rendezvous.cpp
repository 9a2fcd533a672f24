#include "cluster/rendezvous.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <utility>

namespace pt::cluster {

std::uint64_t rendezvous_score(std::string_view member, std::string_view key) {
  std::string input;
  input.reserve(member.size() + 1 + key.size());
  input.append(member).append(1, '\n').append(key);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  std::uint64_t score = 0;
  for (int i = 0; i < 8; ++i) score = (score << 8) | digest[static_cast<std::size_t>(i)];
  return score;
}

std::vector<std::string> rank_members(std::span<const std::string> members, std::string_view key) {
  std::vector<std::pair<std::uint64_t, const std::string*>> scored;
  scored.reserve(members.size());
  for (const auto& member : members) scored.emplace_back(rendezvous_score(member, key), &member);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> ranked;
  ranked.reserve(scored.size());
  for (const auto& [score, member] : scored) ranked.push_back(*member);
  return ranked;
}

}  // namespace pt::cluster
