#include "auth/cidr_list.hpp"

#include "common/ascii.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace pt::auth {
namespace {

asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

// The address as big-endian bytes (4 or 16 of them).
std::array<unsigned char, 16> bytes_of(const asio::ip::address& address, std::size_t& size) {
  std::array<unsigned char, 16> out{};
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
    size = 4;
  } else {
    out = address.to_v6().to_bytes();
    size = 16;
  }
  return out;
}

bool prefix_matches(const asio::ip::address& network, const asio::ip::address& address, unsigned prefix) {
  std::size_t size = 0;
  std::size_t other_size = 0;
  const auto a = bytes_of(network, size);
  const auto b = bytes_of(address, other_size);
  if (size != other_size) return false;
  unsigned bits = prefix;
  for (std::size_t i = 0; i < size && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((a[i] & mask) != (b[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

ParseResult<CidrList> CidrList::parse(std::string_view text) {
  CidrList list;
  for (const auto entry : split_list(text)) {
    const auto slash = entry.find('/');
    auto address_text = entry.substr(0, slash);
    // "[fd00::]/8" and "[::1]", as IPv6 addresses are written in URLs, are taken too.
    if (address_text.size() >= 2 && address_text.front() == '[' && address_text.back() == ']') {
      address_text = address_text.substr(1, address_text.size() - 2);
    }
    std::error_code ec;
    auto address = asio::ip::make_address(std::string(address_text), ec);
    if (ec) return ParseResult<CidrList>::failure(fmt::format("'{}' is not an IP address or CIDR block", entry));
    const unsigned max_prefix = address.is_v4() ? 32 : 128;
    unsigned prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const auto digits = entry.substr(slash + 1);
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || prefix > max_prefix) {
        return ParseResult<CidrList>::failure(
            fmt::format("'{}': the prefix length must be 0..{}", entry, max_prefix));
      }
    }
    // The network address must have no bits beyond the prefix.
    std::size_t size = 0;
    const auto bytes = bytes_of(address, size);
    for (unsigned bit = prefix; bit < size * 8; ++bit) {
      if (bytes[bit / 8] & (0x80 >> (bit % 8))) {
        return ParseResult<CidrList>::failure(
            fmt::format("'{}' has host bits set beyond /{} (did you mean the network address?)", entry, prefix));
      }
    }
    // A block of IPv4-mapped addresses (::ffff:10.0.0.0/104) is the IPv4 block it maps: clients are
    // matched unmapped.
    if (address.is_v6() && address.to_v6().is_v4_mapped() && prefix >= 96) {
      address = unmapped(address);
      prefix -= 96;
    }
    list.blocks_.push_back({address, prefix});
  }
  return ParseResult<CidrList>::success(std::move(list));
}

bool CidrList::contains(const asio::ip::address& address) const {
  const auto candidate = unmapped(address);
  for (const auto& block : blocks_) {
    if (prefix_matches(block.network, candidate, block.prefix)) return true;
  }
  return false;
}

std::vector<std::string> CidrList::entries() const {
  std::vector<std::string> out;
  for (const auto& block : blocks_) out.push_back(fmt::format("{}/{}", block.network.to_string(), block.prefix));
  return out;
}

}  // namespace pt::auth
