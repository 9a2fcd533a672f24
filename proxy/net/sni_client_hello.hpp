#pragma once
// Reads the server name (SNI) from the first bytes a TLS client sends, before any TLS library sees
// them: the DNS-hijack listener must know which registry the client wants in order to mint (off
// the I/O thread) the certificate it will present. Pure and bounded; the bytes are then handed to
// the real handshake unchanged.
#include <cstddef>
#include <string>
#include <string_view>

namespace pt::net {

// More than any real ClientHello (a post-quantum key share makes one ~2 KiB); a peer sending more
// before the name is known is refused.
inline constexpr std::size_t max_client_hello_bytes = 32 * 1024;

enum class SniStatus {
  need_more,  // a prefix of a plausible ClientHello: read more
  found,      // server_name holds the host name (lower-case, no trailing dot)
  no_sni,     // a complete ClientHello without a host_name entry
  not_tls,    // not a TLS handshake record (plain HTTP, garbage)
  malformed,  // a TLS handshake whose ClientHello does not parse, or too large
};

struct SniPeek {
  SniStatus status = SniStatus::need_more;
  std::string server_name;
};

// `bytes`: everything received so far on the connection.
SniPeek peek_server_name(std::string_view bytes);

const char* to_string(SniStatus status);

}  // namespace pt::net
