#include "proxy/registry/upstream_fallbacks.hpp"

#include <catch2/catch.hpp>

using namespace pt::registry;

namespace {

UpstreamFallbacks parsed(std::string_view text) {
  auto result = UpstreamFallbacks::parse(text);
  INFO(result.error);
  REQUIRE(result);
  return *result;
}

std::vector<std::string> names(const std::shared_ptr<const UpstreamChain>& chain) {
  std::vector<std::string> out;
  if (chain) {
    for (const auto& upstream : *chain) out.push_back(upstream.name());
  }
  return out;
}

}  // namespace

TEST_CASE("REGISTRY_MIRRORS: chains by registry, in order, Docker Hub by any of its names") {
  const auto fallbacks = parsed("docker.io=mirror.gcr.io,registry-1.docker.io\n  quay.io=harbor.corp:8443/quay-proxy/,Quay.io");
  const std::vector<std::string> hub = {"mirror.gcr.io", "registry-1.docker.io"};
  CHECK(names(fallbacks.chain_for("registry-1.docker.io", 443)) == hub);
  CHECK(names(fallbacks.chain_for("index.docker.io", 443)) == hub);
  CHECK(names(fallbacks.chain_for("Docker.IO.", 443)) == hub);
  CHECK(names(fallbacks.chain_for("quay.io", 443)) == std::vector<std::string>{"harbor.corp:8443/quay-proxy", "quay.io"});
  CHECK_FALSE(fallbacks.chain_for("quay.io", 5000));  // another server
  CHECK_FALSE(fallbacks.chain_for("ghcr.io", 443));
  CHECK(fallbacks.describe() == std::vector<std::string>{
                                    "quay.io: harbor.corp:8443/quay-proxy, then quay.io",
                                    "registry-1.docker.io: mirror.gcr.io, then registry-1.docker.io"});
}

TEST_CASE("REGISTRY_MIRRORS: ports, IPv6, https:// tolerated") {
  const auto fallbacks = parsed("registry.test:5000=https://[::1]:5001,registry.test:5000 10.0.0.1:5000=docker.io");
  CHECK(names(fallbacks.chain_for("registry.test", 5000)) == std::vector<std::string>{"[::1]:5001", "registry.test:5000"});
  const auto chain = fallbacks.chain_for("10.0.0.1", 5000);
  REQUIRE(chain);
  CHECK(chain->front() == Upstream{.host = "registry-1.docker.io", .port = 443});
  CHECK(parsed("").empty());
  CHECK_FALSE(parsed("").chain_for("registry-1.docker.io", 443));
}

TEST_CASE("REGISTRY_MIRRORS: bad entries are refused with the entry named") {
  for (const char* bad : {"docker.io", "docker.io=", "docker.io=a,,b", "docker.io=http://mirror.test",
                          "docker.io=mirror.test:99999", "docker.io=mirror.test/Upper", "=mirror.test",
                          "docker.io=a docker.io=b", "index.docker.io=a registry-1.docker.io=b", "x=a,a",
                          "docker.io=mirror..test"}) {
    const auto result = UpstreamFallbacks::parse(bad);
    INFO(bad);
    CHECK_FALSE(result);
    CHECK(result.error.find("entry '") != std::string::npos);
  }
}

TEST_CASE("an upstream's prefix goes in front of the repository") {
  const Upstream harbor{.host = "harbor.corp", .port = 443, .prefix = "hub/proxy"};
  CHECK(harbor.target_for("/v2/library/nginx/manifests/1.25") == "/v2/hub/proxy/library/nginx/manifests/1.25");
  CHECK(harbor.target_for("/v2/") == "/v2/");
  CHECK(harbor.repository_for("library/nginx") == "hub/proxy/library/nginx");
  const Upstream plain{.host = "mirror.gcr.io"};
  CHECK(plain.target_for("/v2/library/nginx/blobs/sha256:ab") == "/v2/library/nginx/blobs/sha256:ab");
  CHECK(plain.repository_for("library/nginx") == "library/nginx");
  CHECK(Upstream{.host = "::1", .port = 5000}.authority() == "[::1]:5000");
}

TEST_CASE("a replaced table serves later lookups; a chain taken before stays whole") {
  UpstreamFallbacks live = parsed("docker.io=mirror.gcr.io,docker.io");
  const auto before = live.chain_for("docker.io", 443);
  live.replace(parsed("docker.io=other.test"));
  CHECK(names(before) == std::vector<std::string>{"mirror.gcr.io", "registry-1.docker.io"});
  CHECK(names(live.chain_for("docker.io", 443)) == std::vector<std::string>{"other.test"});
}

TEST_CASE("which answers send a pull on to the next upstream") {
  CHECK(judge_answer(200, false) == FallbackVerdict::answer);
  CHECK(judge_answer(206, true) == FallbackVerdict::answer);
  CHECK(judge_answer(307, false) == FallbackVerdict::answer);  // a blob's CDN redirect, followed as usual
  CHECK(judge_answer(404, false) == FallbackVerdict::next);
  CHECK(judge_answer(404, true) == FallbackVerdict::next);
  CHECK(judge_answer(500, true) == FallbackVerdict::next_down);
  CHECK(judge_answer(503, false) == FallbackVerdict::next_down);
  CHECK(judge_answer(429, false) == FallbackVerdict::next_down);
  CHECK(judge_answer(401, false) == FallbackVerdict::next);
  CHECK(judge_answer(403, false) == FallbackVerdict::next);
  CHECK(judge_answer(401, true) == FallbackVerdict::answer);  // the client's to answer with its credentials
  CHECK(judge_answer(400, false) == FallbackVerdict::answer);
}
