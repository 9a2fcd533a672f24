#pragma once
// What the Docker-socket mode must see in a head before the codec does. The codec refuses
// protocol upgrades (the MITM proxy speaks no other protocol), but the Engine API hijacks the
// connection for attach and exec: the client sends "Connection: Upgrade" + "Upgrade: tcp" and the
// engine answers "101 UPGRADED", after which both sides speak raw bytes. So the Upgrade field is
// taken out before parsing and put back when forwarding, and a 101 is recognised here.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pt::dockersock {

// The length of the head at the front of `bytes` (through the blank line), or 0 if incomplete.
std::size_t head_length(std::string_view bytes);

struct UpgradeSplit {
  std::string head;                    // the head without Upgrade fields
  std::optional<std::string> upgrade;  // the value of the (first) Upgrade field
};
UpgradeSplit split_upgrade_field(std::string_view head);

// The status code of a response head ("HTTP/1.1 101 UPGRADED" -> 101), 0 if unreadable.
int response_status(std::string_view head);

}  // namespace pt::dockersock
