#include "proxy/registry/upstream_health.hpp"

#include <catch2/catch.hpp>

using namespace pt::registry;
using namespace std::chrono_literals;

namespace {

const Upstream mirror{.host = "mirror.test"};
const Upstream backup{.host = "backup.test", .port = 5000};
const Upstream origin{.host = "registry.test"};
const UpstreamChain chain = {mirror, backup, origin};
const std::string digest = "sha256:" + std::string(64, 'a');

}  // namespace

TEST_CASE("upstream health: the configured order while all answer") {
  UpstreamHealth health;
  CHECK(health.order(chain, "", UpstreamHealth::clock::now()) == chain);
}

TEST_CASE("upstream health: a failing upstream goes last for the cooldown, then back in place") {
  UpstreamHealth health(30s, 1h);
  const auto t0 = UpstreamHealth::clock::now();
  health.failed(mirror, t0);
  CHECK(health.order(chain, "", t0 + 1s) == UpstreamChain{backup, origin, mirror});
  CHECK(health.order(chain, "", t0 + 31s) == chain);
  health.failed(mirror, t0);
  health.answered(mirror);  // tried last and answered: in place again
  CHECK(health.order(chain, "", t0 + 1s) == chain);
}

TEST_CASE("upstream health: when every upstream fails, every one is still tried, in order") {
  UpstreamHealth health;
  const auto t0 = UpstreamHealth::clock::now();
  for (const auto& upstream : chain) health.failed(upstream, t0);
  CHECK(health.order(chain, "", t0) == chain);
}

TEST_CASE("upstream health: a corrupt copy sends that digest elsewhere, other digests not") {
  UpstreamHealth health(30s, 1h);
  const auto t0 = UpstreamHealth::clock::now();
  health.served_corrupt(mirror, digest, t0);
  CHECK(health.order(chain, digest, t0 + 1s) == UpstreamChain{backup, origin, mirror});
  CHECK(health.order(chain, "sha256:" + std::string(64, 'b'), t0 + 1s) == chain);
  CHECK(health.order(chain, "", t0 + 1s) == chain);
  // Behind the failing ones too: a mirror known to corrupt it is the very last resort.
  health.failed(backup, t0);
  CHECK(health.order(chain, digest, t0 + 1s) == UpstreamChain{origin, backup, mirror});
  CHECK(health.order(chain, digest, t0 + 2h) == chain);
}

TEST_CASE("upstream health: corrupt-copy memory is bounded") {
  UpstreamHealth health(30s, 1h);
  const auto t0 = UpstreamHealth::clock::now();
  for (int i = 0; i < 10000; ++i) health.served_corrupt(mirror, "sha256:" + std::to_string(i), t0 + std::chrono::milliseconds(i));
  // The newest are remembered; the map did not grow without bound (checked by the sanitizer run's memory).
  CHECK(health.order(chain, "sha256:9999", t0 + 20s) == UpstreamChain{backup, origin, mirror});
}
