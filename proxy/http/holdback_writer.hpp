#pragma once
// Relays a body to a client while keeping its last piece back until the whole body is verified
// (digest, length). If verification fails the held piece is never sent and the connection is cut,
// so the client sees a truncated transfer instead of accepting corrupt bytes as complete.
#include "proxy/http/message_io.hpp"

#include <string>
#include <string_view>

namespace pt::http {

class HoldbackWriter {
public:
  // With `hold` false it passes every piece straight through (nothing to verify: no copy).
  explicit HoldbackWriter(bool chunked, bool hold = true) : writer_(chunked), hold_(hold) {}

  // Sends what was held and holds `piece` instead.
  template <class Stream>
  asio::awaitable<std::error_code> write(Stream& stream, std::string_view piece) {
    if (piece.empty()) co_return std::error_code{};
    if (!hold_) co_return co_await writer_.write(stream, piece);
    std::error_code ec;
    if (!held_.empty()) ec = co_await writer_.write(stream, held_);
    held_.assign(piece.data(), piece.size());
    co_return ec;
  }

  // The body verified: sends the held piece and ends the body.
  template <class Stream>
  asio::awaitable<std::error_code> release(Stream& stream) {
    if (!held_.empty()) {
      if (auto ec = co_await writer_.write(stream, held_)) co_return ec;
      held_.clear();
    }
    co_return co_await writer_.finish(stream);
  }

  std::uint64_t bytes_written() const { return writer_.bytes_written(); }

private:
  BodyWriter writer_;
  bool hold_;
  std::string held_;
};

}  // namespace pt::http
