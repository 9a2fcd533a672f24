#pragma once
// POST /admin/warm: fills the cache with images before a rollout (the pure parts are in
// warm_request.hpp).
//
// A warm is a registry client of the proxy's own request path: for each image it opens a loopback
// TCP connection to a registry session of its own, the same `registry::Session` the mirror port
// runs (each request names its registry with ?ns=, the proxy answers Bearer challenges and injects
// AUTH_REGISTRIES credentials itself), and asks it what a pull asks: the tag with every manifest
// type, the index's platform manifests by digest, then each config and layer. So the cache keys,
// tag records, digest verification and shared fills are a client pull's, and a client pulling
// the same blob meanwhile reads the same fill. Blobs already cached are only HEADed (answered from
// the cache); others are read and thrown away as they stream. Everything runs in the admin
// request's coroutine, on its I/O thread, without blocking it.
#include "common/image_reference.hpp"
#include "proxy/front/dependencies.hpp"
#include "proxy/ops/dependencies.hpp"
#include "proxy/ops/warm_request.hpp"
#include "proxy/registry/mirror_context.hpp"

#include <asio/awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <string>

namespace pt::ops {

class WarmJobs {
public:
  // `max_jobs`: warm requests running at once; more are refused with 429 (each fills the cache at
  // the speed of its upstreams, and they would only compete for them).
  explicit WarmJobs(Dependencies& deps, std::size_t max_jobs = 2, WarmLimits limits = {});

  // Answers POST /admin/warm on `io` (the caller checked the admin access): 4xx before anything is
  // warmed, else 200 and NDJSON progress, chunked, ending with a summary line. Returns whether
  // the connection may carry another request (never, after a warm).
  asio::awaitable<bool> serve(const http::RequestHead& request, front::LocalExchange& io);

private:
  Dependencies& deps_;
  const std::size_t max_jobs_;
  const WarmLimits limits_;
  std::atomic<std::size_t> running_{0};
  // The Bearer tokens the warm sessions fetched (kept, as the mirror port keeps its own), and the
  // registry of a request that names none (never used: every warm request carries ?ns=).
  registry::MirrorContext mirror_{.default_registry = {.host = std::string(docker_hub_host), .port = 443}};
};

// The progress lines of a warm, as chunks of the admin response.
class ProgressStream {
public:
  explicit ProgressStream(front::LocalExchange& io) : io_(io) {}
  // Sends one line; false when the client is gone (then the warm stops).
  asio::awaitable<bool> send(const std::string& line);
  // The last chunk, after the summary line.
  asio::awaitable<void> finish();
  bool gone() const { return gone_; }

private:
  front::LocalExchange& io_;
  bool gone_ = false;
};

struct WarmOutcome {
  bool warmed = false;
  std::uint64_t bytes = 0;
};

// Warms one image through a session of its own (see above), reporting on `emit`.
asio::awaitable<WarmOutcome> warm_image(registry::Dependencies& registry, registry::MirrorContext& mirror,
                                        const ImageReference& image, const std::vector<Platform>& platforms,
                                        ProgressStream& progress);

}  // namespace pt::ops
