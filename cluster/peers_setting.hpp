#pragma once
// PEERS: the replicas that act as one cache. Either their peer addresses, written out
// ("10.0.0.5:3129 10.0.0.6:3129"), or one name re-resolved now and then ("dns:NAME:PORT", the
// headless Service of a Kubernetes StatefulSet, whose addresses are the pods').
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pt::cluster {

struct PeersSetting {
  std::vector<std::string> members;  // static: "host:port" / "[v6]:port", canonical, no duplicates
  struct Dns {
    std::string name;
    std::uint16_t port = 0;
  };
  std::optional<Dns> dns;  // dns:NAME:PORT (then `members` is empty)

  bool empty() const { return members.empty() && !dns; }
};

// Entries separated by spaces, commas or newlines; empty text: no cluster. Throws
// std::invalid_argument naming the bad entry (a missing port, a bad name, dns: beside others).
PeersSetting parse_peers(std::string_view text);

// A member as the rendezvous hash and the logs see it: "host:port", IPv6 bracketed, lower-case.
// Throws std::invalid_argument for anything else (PEER_LISTEN goes through it too).
std::string canonical_member(std::string_view text, std::string_view setting = "PEERS");

}  // namespace pt::cluster
