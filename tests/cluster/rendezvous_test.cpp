#include "cluster/rendezvous.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using pt::cluster::rank_members;
using pt::cluster::rendezvous_score;

TEST_CASE("the rendezvous score is SHA-256 of member newline key, first 8 bytes big-endian", "[cluster]") {
  // printf 'a:1\nk' | sha256sum -> 2a9eceee33501ef5... (the formula the tests and docs give)
  CHECK(rendezvous_score("a:1", "k") == 0x2a9eceee33501ef5ULL);
}

TEST_CASE("every replica ranks the same way, whatever order it lists members in", "[cluster]") {
  const std::vector<std::string> a{"10.0.0.1:3129", "10.0.0.2:3129", "10.0.0.3:3129"};
  const std::vector<std::string> b{"10.0.0.3:3129", "10.0.0.1:3129", "10.0.0.2:3129"};
  for (int i = 0; i < 50; ++i) {
    const auto key = "sha256:" + std::to_string(i);
    CHECK(rank_members(a, key) == rank_members(b, key));
  }
}

TEST_CASE("keys spread evenly, and removing a member moves only its own keys", "[cluster]") {
  const std::vector<std::string> three{"10.0.0.1:3129", "10.0.0.2:3129", "10.0.0.3:3129"};
  const std::vector<std::string> two{"10.0.0.1:3129", "10.0.0.2:3129"};
  std::map<std::string, int> owned;
  int moved = 0;
  constexpr int keys = 3000;
  for (int i = 0; i < keys; ++i) {
    const auto key = "sha256:key" + std::to_string(i);
    const auto owner = rank_members(three, key).front();
    ++owned[owner];
    const auto after = rank_members(two, key).front();
    if (owner != "10.0.0.3:3129") {
      CHECK(after == owner);  // keys of the members that stay do not move
    } else {
      ++moved;
    }
  }
  for (const auto& [member, count] : owned) CHECK(count > keys / 3 * 8 / 10);  // within 20% of a third
  CHECK(moved == owned["10.0.0.3:3129"]);
}
