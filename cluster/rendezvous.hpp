#pragma once
// Who owns a key: rendezvous (highest-random-weight) hashing. Every member scores every key; the
// highest score owns it, the next takes over when it is down. Unlike a ring, adding or removing a
// member moves only the keys it owns or gets (1/N of them), needs no virtual nodes for balance,
// and every replica computes the same order from the member list alone, with no coordination.
//
// score(member, key) = the first 8 bytes, big-endian, of SHA-256(member "\n" key): stable across
// releases and machines, and easy to recompute outside the proxy (tests, an operator's script).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cluster {

std::uint64_t rendezvous_score(std::string_view member, std::string_view key);

// `members` ordered by their score for `key`, highest first; equal scores by member text.
std::vector<std::string> rank_members(std::span<const std::string> members, std::string_view key);

}  // namespace pt::cluster
