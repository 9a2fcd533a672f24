#include "cluster/members.hpp"
#include "cluster/owner_key.hpp"
#include "cluster/rendezvous.hpp"

#include "cache/registry_request.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using pt::cluster::Members;

namespace {
const std::vector<std::string> three{"10.0.0.1:3129", "10.0.0.2:3129", "10.0.0.3:3129"};
const std::string key = "sha256:abc";
}  // namespace

TEST_CASE("candidates follow the rendezvous order and name this replica", "[cluster]") {
  Members members("10.0.0.2:3129", three, 10s);
  const auto ranked = pt::cluster::rank_members(three, key);
  const auto candidates = members.candidates(key);
  REQUIRE(candidates.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(candidates[i].member == ranked[i]);
    CHECK(candidates[i].self == (ranked[i] == "10.0.0.2:3129"));
  }
  CHECK(members.self_is_member());
  CHECK(members.up_count() == 3);
}

TEST_CASE("a member that failed is skipped for a while, then tried again", "[cluster]") {
  const auto owner = pt::cluster::rank_members(three, key).front();
  const std::string self = owner == three[0] ? three[1] : three[0];
  Members members(self, three, 10s);
  const auto t0 = Members::clock::now();
  CHECK(members.mark_down(owner, t0));
  CHECK_FALSE(members.mark_down(owner, t0 + 1s));  // already down: counted once
  auto during = members.candidates(key, t0 + 5s);
  REQUIRE(during.size() == 2);
  CHECK(during.front().member != owner);
  CHECK(members.up_count(t0 + 5s) == 2);
  // 1 s later it was marked again, so it stays down 10 s from then.
  CHECK(members.candidates(key, t0 + 12s).front().member == owner);
  CHECK_FALSE(members.mark_down(self, t0));  // never down to itself
  CHECK(members.candidates(key, t0 + 5s).size() == 2);
}

TEST_CASE("a new member list keeps the state of the members that stay", "[cluster]") {
  Members members("10.0.0.1:3129", three, 10s);
  const auto t0 = Members::clock::now();
  members.mark_down("10.0.0.2:3129", t0);
  CHECK_FALSE(members.set({"10.0.0.3:3129", "10.0.0.1:3129", "10.0.0.2:3129"}));  // same set
  CHECK(members.set({"10.0.0.1:3129", "10.0.0.2:3129"}));
  const auto states = members.states(t0 + 1s);
  REQUIRE(states.size() == 2);
  CHECK(states[0].self);
  CHECK_FALSE(states[1].up);
  CHECK(members.size() == 2);
}

TEST_CASE("a replica outside the member list owns nothing", "[cluster]") {
  Members members("10.0.0.9:3129", three, 10s);
  CHECK_FALSE(members.self_is_member());
  for (const auto& candidate : members.candidates(key)) CHECK_FALSE(candidate.self);
}

TEST_CASE("owner keys: content by digest, tags by registry and repository", "[cluster]") {
  using pt::cache::classify_request;
  using pt::cluster::owner_key;
  const std::string digest = "sha256:" + std::string(64, 'a');
  CHECK(owner_key(classify_request("GET", "/v2/library/app/blobs/" + digest), "registry.test:5000") == digest);
  CHECK(owner_key(classify_request("HEAD", "/v2/other/app/manifests/" + digest), "docker.io") == digest);
  CHECK(owner_key(classify_request("GET", "/v2/library/app/manifests/1.0"), "registry.test:5000") ==
        "registry.test:5000/library/app");
  CHECK_FALSE(owner_key(classify_request("GET", "/v2/"), "docker.io"));
  CHECK_FALSE(owner_key(classify_request("GET", "/v2/library/app/tags/list"), "docker.io"));
  CHECK_FALSE(owner_key(classify_request("PUT", "/v2/library/app/manifests/1.0"), "docker.io"));
}

TEST_CASE("a probe brings a member back before its time is up", "[cluster]") {
  Members members("10.0.0.1:3129", three, 10s);
  const auto t0 = Members::clock::now();
  members.mark_down("10.0.0.2:3129", t0);
  CHECK(members.down(t0 + 1s) == std::vector<std::string>{"10.0.0.2:3129"});
  members.mark_up("10.0.0.2:3129");
  CHECK(members.down(t0 + 1s).empty());
  CHECK(members.up_count(t0 + 1s) == 3);
}
