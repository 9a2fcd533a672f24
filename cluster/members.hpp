#pragma once
// The members of the cluster as this replica sees them: who they are (PEERS, or its name's
// addresses now), which one is this replica, and which are down. A member that failed (no
// connection within PEER_CONNECT_TIMEOUT, or no response head) is skipped for a while, so a dead
// replica costs one failed attempt per interval rather than one per request; then it is tried
// again, which is how a returning replica takes its share back. Thread-safe: every session asks.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cluster {

class Members {
public:
  using clock = std::chrono::steady_clock;

  // `self`: this replica's member text (PEER_LISTEN, canonical); `down_for`: how long a failed
  // member is skipped.
  Members(std::string self, std::vector<std::string> members, clock::duration down_for);

  // A new member list (a DNS refresh). Members that stay keep their state; true when it changed.
  bool set(std::vector<std::string> members);

  struct Candidate {
    std::string member;
    bool self = false;
  };
  // The members that are up, in rendezvous order for `key`: the owner first, then who takes over.
  // This replica is among them only when it is a member itself.
  std::vector<Candidate> candidates(std::string_view key, clock::time_point now = clock::now()) const;

  // The member failed: skipped until `down_for` from now. False when it was down already (or is
  // not a member any more), so a burst of failures is counted and logged once.
  bool mark_down(const std::string& member, clock::time_point now = clock::now());

  // A probe reached it again (or a refresh found it answering): it owns its share from now on.
  void mark_up(const std::string& member);
  // The members skipped now, for the prober to try.
  std::vector<std::string> down(clock::time_point now = clock::now()) const;

  struct State {
    std::string member;
    bool self = false;
    bool up = true;
    std::optional<clock::time_point> down_until;
  };
  std::vector<State> states(clock::time_point now = clock::now()) const;
  std::size_t size() const;
  std::size_t up_count(clock::time_point now = clock::now()) const;
  const std::string& self() const { return self_; }
  bool self_is_member() const;

private:
  struct Entry {
    std::string member;
    clock::time_point down_until{};  // up when in the past
  };

  const std::string self_;
  const clock::duration down_for_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // sorted by member
};

}  // namespace pt::cluster
