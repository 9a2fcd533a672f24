#pragma once
// A response body as a session sends it to its client, whatever it comes from: upstream (relayed
// as it is, or filling the cache as it flows), a cached file, or a fill another client started.
// Each source pushes its pieces, in order, into the sink it is handed; the session's one delivery
// loop (Session::deliver) writes them to the client, moving the deadline, holding the last piece
// back while the source still has the bytes to verify, and cutting the transfer when they turn out
// wrong. The head is the session's business; only the bytes behind it differ.
#include "cache/blob_reader.hpp"
#include "cache/digest.hpp"
#include "cache/fill.hpp"
#include "common/deadline.hpp"
#include "proxy/http/codec.hpp"

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace pt::cache {
class CacheStore;
}  // namespace pt::cache
namespace pt::net {
class UpstreamConnection;
}  // namespace pt::net

namespace pt::registry {

class BodySource {
public:
  using Sink = std::function<asio::awaitable<std::error_code>(std::string_view piece)>;
  virtual ~BodySource() = default;

  // Pushes every piece of the body to `sink`; returns the first error, the source's or the sink's.
  virtual asio::awaitable<std::error_code> pump(const Sink& sink) = 0;
  // Whether the bytes are known good only once all of them passed: the last piece is then held
  // back from the client until verify() says so.
  virtual bool verifies() const = 0;
  // After a complete pump(): an error when the bytes were wrong.
  virtual asio::awaitable<std::error_code> verify() { co_return std::error_code{}; }
  // The client leaving does not stop this source: a fill goes on, since others may be attached and
  // the next pull wants the blob anyway.
  virtual bool outlives_client() const { return false; }
  // Why the source failed (for the access log), empty when it did not, or when only the client did.
  const std::string& failure() const { return failure_; }

protected:
  std::string failure_;
};

// Upstream's response body, relayed as it comes (nothing is stored). With `expected`, the bytes
// are hashed on the way and the last piece waits for the digest: a peer replica's answer, which
// the client must never get completed with bytes other than the content it asked for.
class UpstreamBody final : public BodySource {
public:
  UpstreamBody(net::UpstreamConnection& connection, http::Parser& response, Deadline& deadline,
               Deadline::clock::duration idle, std::optional<cache::Digest> expected = std::nullopt)
      : connection_(connection), response_(response), deadline_(deadline), idle_(idle), expected_(std::move(expected)) {
    if (expected_) hasher_.emplace();
  }

  asio::awaitable<std::error_code> pump(const Sink& sink) override;
  bool verifies() const override { return hasher_.has_value(); }
  asio::awaitable<std::error_code> verify() override;

private:
  net::UpstreamConnection& connection_;
  http::Parser& response_;
  Deadline& deadline_;
  Deadline::clock::duration idle_;
  std::optional<cache::Digest> expected_;
  std::optional<cache::Sha256> hasher_;
};

// Upstream's response body, written into the cache's fill as it is relayed. The fill checks the
// digest at the end; until then the client does not get the last piece.
class FillingBody final : public BodySource {
public:
  FillingBody(net::UpstreamConnection& connection, http::Parser& response, Deadline& deadline,
              Deadline::clock::duration idle, cache::FillWriter& writer)
      : connection_(connection), response_(response), deadline_(deadline), idle_(idle), writer_(writer) {}

  asio::awaitable<std::error_code> pump(const Sink& sink) override;
  bool verifies() const override { return true; }
  asio::awaitable<std::error_code> verify() override;
  bool outlives_client() const override { return true; }
  // The disk failed us (ENOSPC...): the bytes were served but cannot be kept, nor verified.
  std::error_code store_error() const { return store_error_; }
  // The bytes upstream sent do not hash to the digest asked for.
  bool content_mismatch() const { return content_mismatch_; }

private:
  net::UpstreamConnection& connection_;
  http::Parser& response_;
  Deadline& deadline_;
  Deadline::clock::duration idle_;
  cache::FillWriter& writer_;
  std::error_code store_error_;
  bool content_mismatch_ = false;
};

// A stored blob file, or a byte range of it. A whole file not yet verified in this process is
// hashed on the way out; a corrupt one is dropped from the cache and never completed.
class CachedFileBody final : public BodySource {
public:
  CachedFileBody(const cache::BlobReader& reader, std::uint64_t first, std::uint64_t length,
                 const cache::Digest& digest, bool hash, cache::CacheStore& store, asio::thread_pool& blocking);

  asio::awaitable<std::error_code> pump(const Sink& sink) override;
  bool verifies() const override { return hasher_.has_value(); }
  asio::awaitable<std::error_code> verify() override;

private:
  const cache::BlobReader& reader_;
  std::uint64_t first_;
  std::uint64_t length_;
  const cache::Digest& digest_;
  std::optional<cache::Sha256> hasher_;
  cache::CacheStore& store_;
  asio::thread_pool& blocking_;
};

// The bytes of a fill another client's request is downloading, as they arrive. The fill fails
// instead of ending when its bytes turn out wrong, so the last piece waits for its end.
class SharedFillBody final : public BodySource {
public:
  SharedFillBody(cache::Fill& fill, Deadline& deadline, Deadline::clock::duration idle)
      : fill_(fill), deadline_(deadline), idle_(idle) {}

  asio::awaitable<std::error_code> pump(const Sink& sink) override;
  bool verifies() const override { return true; }

private:
  cache::Fill& fill_;
  Deadline& deadline_;
  Deadline::clock::duration idle_;
};

}  // namespace pt::registry
