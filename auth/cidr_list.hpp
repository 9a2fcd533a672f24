#pragma once
// ALLOWED_CLIENTS: the client addresses that may use the proxy, as a list of CIDR blocks. A proxy
// that holds registry credentials and reaches internal networks must not be open to the world, so
// the default admits loopback and the private ranges only.
#include "common/parse_result.hpp"

#include <asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pt::auth {

class CidrList {
public:
  // "10.0.0.0/8 192.168.1.7 ::1/128 fd00::/8 [2001:db8::]/32", separated by spaces, commas or
  // newlines; a bare address is a single host; an IPv6 address may be bracketed. The address part must be the network address ("10.1.0.0/8" is refused: the
  // author meant something else). An empty text is an empty list, which admits nobody.
  static ParseResult<CidrList> parse(std::string_view text);

  // IPv4-mapped IPv6 addresses (::ffff:10.0.0.1, as a dual-stack listener reports IPv4 clients)
  // match the IPv4 blocks (a block written ::ffff:10.0.0.0/104 is 10.0.0.0/8), not IPv6 ones: ::/0
  // admits every IPv6 client, not the IPv4 clients of a [::] listener.
  bool contains(const asio::ip::address& address) const;

  bool empty() const { return blocks_.empty(); }
  // The blocks in canonical form, for the start-up log.
  std::vector<std::string> entries() const;

private:
  struct Block {
    asio::ip::address network;  // v4 or v6
    unsigned prefix = 0;
  };
  std::vector<Block> blocks_;
};

}  // namespace pt::auth
