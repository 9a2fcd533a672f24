#include "proxy/net/sni_client_hello.hpp"

#include "common/host_port.hpp"

#include <cstdint>
#include <optional>

namespace pt::net {
namespace {

constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint8_t name_type_host_name = 0;
constexpr std::size_t record_header = 5;
constexpr std::size_t max_record_payload = 16384 + 2048;  // TLSPlaintext limit, with slack

// A cursor over untrusted bytes: every read is bounds-checked and reports failure.
class Reader {
public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool u8(std::uint8_t& out) {
    if (data_.size() < 1) return false;
    out = static_cast<std::uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& out) {
    if (data_.size() < 2) return false;
    out = static_cast<std::uint16_t>((static_cast<std::uint8_t>(data_[0]) << 8) | static_cast<std::uint8_t>(data_[1]));
    data_.remove_prefix(2);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (data_.size() < n) return false;
    out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool skip(std::size_t n) {
    std::string_view ignored;
    return bytes(n, ignored);
  }
  // A length-prefixed vector (1 or 2 length bytes).
  bool vector8(std::string_view& out) {
    std::uint8_t n = 0;
    return u8(n) && bytes(n, out);
  }
  bool vector16(std::string_view& out) {
    std::uint16_t n = 0;
    return u16(n) && bytes(n, out);
  }
  bool empty() const { return data_.empty(); }

private:
  std::string_view data_;
};

// The host name of a server_name extension body; nullopt if malformed; "" if it has no host_name.
std::optional<std::string> host_name_of(std::string_view extension) {
  Reader reader(extension);
  std::string_view list;
  if (!reader.vector16(list) || !reader.empty()) return std::nullopt;
  Reader entries(list);
  std::optional<std::string_view> host;
  // The whole list is parsed, so a length that cuts a name short is malformed, not a shorter name.
  while (!entries.empty()) {
    std::uint8_t type = 0;
    std::string_view name;
    if (!entries.u8(type) || !entries.vector16(name)) return std::nullopt;
    if (type == name_type_host_name && !host) host = name;
  }
  if (!host) return std::string();
  std::string_view name = *host;
  // RFC 6066: no trailing dot, ASCII; tolerated here, and validated again as a host name.
  if (name.ends_with('.')) name.remove_suffix(1);
  if (!is_valid_hostname(name)) return std::nullopt;
  return normalize_host(name);
}

SniPeek parse_client_hello(std::string_view body) {
  Reader reader(body);
  std::string_view ignored;
  if (!reader.skip(2 + 32)) return {SniStatus::malformed, {}};  // legacy_version, random
  if (!reader.vector8(ignored)) return {SniStatus::malformed, {}};   // session id
  if (!reader.vector16(ignored)) return {SniStatus::malformed, {}};  // cipher suites
  if (!reader.vector8(ignored)) return {SniStatus::malformed, {}};   // compression methods
  if (reader.empty()) return {SniStatus::no_sni, {}};                // no extensions at all
  std::string_view extensions;
  if (!reader.vector16(extensions)) return {SniStatus::malformed, {}};
  Reader ext(extensions);
  while (!ext.empty()) {
    std::uint16_t type = 0;
    std::string_view data;
    if (!ext.u16(type) || !ext.vector16(data)) return {SniStatus::malformed, {}};
    if (type != extension_server_name) continue;
    auto name = host_name_of(data);
    if (!name) return {SniStatus::malformed, {}};
    if (name->empty()) return {SniStatus::no_sni, {}};
    return {SniStatus::found, std::move(*name)};
  }
  return {SniStatus::no_sni, {}};
}

}  // namespace

SniPeek peek_server_name(std::string_view bytes) {
  if (bytes.size() > max_client_hello_bytes) bytes = bytes.substr(0, max_client_hello_bytes);
  // The handshake message may be split over several records: join their payloads.
  std::string handshake;
  std::size_t offset = 0;
  for (;;) {
    if (bytes.size() - offset < record_header) {
      // Even the first byte tells a TLS client from anything else.
      if (offset < bytes.size() && static_cast<std::uint8_t>(bytes[offset]) != record_handshake) {
        return {SniStatus::not_tls, {}};
      }
      break;
    }
    const auto type = static_cast<std::uint8_t>(bytes[offset]);
    const auto major = static_cast<std::uint8_t>(bytes[offset + 1]);
    const std::size_t length = (static_cast<std::uint8_t>(bytes[offset + 3]) << 8) |
                               static_cast<std::uint8_t>(bytes[offset + 4]);
    if (type != record_handshake || major != 3) return {offset == 0 ? SniStatus::not_tls : SniStatus::malformed, {}};
    if (length == 0 || length > max_record_payload) return {SniStatus::malformed, {}};
    if (bytes.size() - offset - record_header < length) {
      handshake.append(bytes.substr(offset + record_header));
      break;
    }
    handshake.append(bytes.substr(offset + record_header, length));
    offset += record_header + length;
    if (handshake.size() >= 4) {
      const std::size_t message = (static_cast<std::uint8_t>(handshake[1]) << 16) |
                                  (static_cast<std::uint8_t>(handshake[2]) << 8) |
                                  static_cast<std::uint8_t>(handshake[3]);
      if (handshake.size() >= 4 + message) break;
    }
  }

  if (handshake.empty()) return {SniStatus::need_more, {}};
  if (static_cast<std::uint8_t>(handshake[0]) != handshake_client_hello) return {SniStatus::malformed, {}};
  if (handshake.size() < 4) return {SniStatus::need_more, {}};
  const std::size_t message = (static_cast<std::uint8_t>(handshake[1]) << 16) |
                              (static_cast<std::uint8_t>(handshake[2]) << 8) |
                              static_cast<std::uint8_t>(handshake[3]);
  if (message + 4 + record_header > max_client_hello_bytes) return {SniStatus::malformed, {}};
  if (handshake.size() < 4 + message) {
    return {bytes.size() >= max_client_hello_bytes ? SniStatus::malformed : SniStatus::need_more, {}};
  }
  return parse_client_hello(std::string_view(handshake).substr(4, message));
}

const char* to_string(SniStatus status) {
  switch (status) {
    case SniStatus::need_more: return "incomplete ClientHello";
    case SniStatus::found: return "server name found";
    case SniStatus::no_sni: return "ClientHello without a server name (SNI)";
    case SniStatus::not_tls: return "not a TLS ClientHello";
    case SniStatus::malformed: return "malformed or oversized ClientHello";
  }
  return "?";
}

}  // namespace pt::net
