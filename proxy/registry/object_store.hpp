#pragma once
// BLOB_STORE=s3://BUCKET[/PREFIX]: an S3 bucket behind the local cache, shared by every replica.
// Content addressed by digest (blobs, manifests by digest) lives there under its digest alone,
// whatever registry it came from, so a replica with an empty disk, or a new one, gets it from the
// bucket instead of upstream. The local cache stays in front as a bounded read cache.
//
// Everything here speaks S3 through our own SigV4 (s3/): Debian 12 packages no usable C++ client.
// The bucket is an optimisation, never a dependency of a pull: when it fails, hits on the local
// disk are served as ever and misses go upstream, uncached in the bucket; the failures are counted
// and logged at most once a minute.
#include "cache/digest.hpp"
#include "proxy/http/message.hpp"
#include "s3/credentials.hpp"
#include "s3/requests.hpp"
#include "s3/store_location.hpp"

#include <asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <system_error>
#include <string>
#include <string_view>

namespace pt {
class Deadline;
}  // namespace pt
namespace pt::net {
class UpstreamTls;
class ResolveOverrides;
class UpstreamConnection;
enum class Transport;
}  // namespace pt::net

namespace pt::cluster {
class Members;
}  // namespace pt::cluster

namespace pt::registry {

class ObjectUploads;

// The bucket's key of content by digest: "blobs/sha256/<hex>" (under the store's prefix).
std::string object_key(const cache::Digest& digest);
// The bucket's key of a tag record: "tags/<SHA-256 of the record's key>" (its key holds the
// registry, repository and tag: characters an object key had better not carry).
std::string tag_object_key(std::string_view tag_key);

// Whether this replica is the one to act on a content key ("blobs/sha256/<hex>", the store's
// prefix taken off): with PEERS only the owner of its digest uploads, aborts and evicts it, so the
// replicas never step on each other. True without a cluster (null `members`).
bool owns_object(const cluster::Members* members, std::string_view key);

// What went wrong with the bucket, and how much went to and came from it; read by /metrics.
class ObjectStoreHealth {
public:
  using clock = std::chrono::steady_clock;
  // Counts a failure; logs it unless one was logged less than a minute ago (then it says how
  // many it kept quiet about).
  void failed(std::string_view what, clock::time_point now = clock::now());
  void uploaded(std::uint64_t bytes) {
    grown_.store(true, std::memory_order_relaxed);
    uploads_.fetch_add(1, std::memory_order_relaxed);
    uploaded_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void downloaded() { downloads_.fetch_add(1, std::memory_order_relaxed); }
  // A failure was counted less than `window` ago (the outbox waits for a quiet bucket).
  bool failed_within(clock::duration window, clock::time_point now = clock::now()) const {
    const auto last = last_failure_.load(std::memory_order_relaxed);
    return last != clock::rep{} && now - clock::time_point(clock::duration(last)) < window;
  }
  // Something was uploaded since the last eviction pass (S3_MAX_SIZE): true once per batch.
  bool take_grown() { return grown_.exchange(false, std::memory_order_relaxed); }
  // The bucket's copy of `digest` did not hash to it: not read again for an hour (the retry goes
  // upstream, and that fill's upload replaces the object).
  void served_corrupt(const cache::Digest& digest, clock::time_point now = clock::now());
  bool known_corrupt(const cache::Digest& digest, clock::time_point now = clock::now());

  std::uint64_t errors() const { return errors_.load(); }
  std::uint64_t uploads() const { return uploads_.load(); }
  std::uint64_t uploaded_bytes() const { return uploaded_bytes_.load(); }
  std::uint64_t downloads() const { return downloads_.load(); }

private:
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> uploads_{0};
  std::atomic<std::uint64_t> uploaded_bytes_{0};
  std::atomic<std::uint64_t> downloads_{0};
  std::atomic<bool> grown_{false};
  std::atomic<clock::rep> last_failure_{};  // time_since_epoch of the last failure, 0: none
  std::mutex mutex_;
  clock::time_point last_log_{};
  std::uint64_t quiet_ = 0;
  std::map<std::string, clock::time_point> corrupt_;  // digest -> until when it is skipped
};

struct ObjectStore {
  s3::Endpoint endpoint;
  s3::AccessKey key;
  net::UpstreamTls& tls;
  const net::ResolveOverrides& resolve;
  ObjectStoreHealth& health;
  ObjectUploads* uploads = nullptr;  // null: the bucket is read, never written (tests, tools)

  // Where connections go: the endpoint's host, with the bucket in front in virtual-host style.
  std::string connect_host() const;
  // https, or the cleartext an operator asked for with an http:// S3_ENDPOINT.
  net::Transport transport() const;
};

// The request head of `spec`, signed now (SigV4) with the store's key.
http::RequestHead signed_request(const ObjectStore& store, const s3::RequestSpec& spec);

// One S3 request whose answer is small (control operations: HEAD, listings, multipart steps),
// read whole up to a limit. `body`: the request body, for the requests we build whole.
struct S3Answer {
  bool ok = false;           // a response was read (any status)
  bool unreachable = false;  // no connection could be had
  std::string error;
  int status = 0;
  http::Headers headers;
  std::string body;
};
// `streamed`: writes a body too large to build whole (an object's bytes, from a local file); it may
// be called again when a kept-alive connection turns out closed.
using StreamedBody = std::function<asio::awaitable<std::error_code>(net::UpstreamConnection& connection)>;
// "403 SignatureDoesNotMatch", "status 500" or the connection's error: for logs and start-up errors.
std::string describe(const S3Answer& answer);

asio::awaitable<S3Answer> s3_request(net::UpstreamConnection& connection, const ObjectStore& store,
                                     const s3::RequestSpec& spec, Deadline& deadline,
                                     const StreamedBody* streamed = nullptr);

}  // namespace pt::registry
