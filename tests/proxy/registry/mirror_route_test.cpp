#include "proxy/registry/mirror_route.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using namespace pt::registry;

namespace {

const MirrorRegistry hub{"registry-1.docker.io", 443};

}  // namespace

TEST_CASE("mirror registries: Docker Hub aliases, ports, decoration") {
  CHECK(parse_mirror_registry("docker.io") == hub);
  CHECK(parse_mirror_registry("index.docker.io") == hub);
  CHECK(parse_mirror_registry("registry.hub.docker.com") == hub);
  CHECK(parse_mirror_registry("Registry-1.Docker.IO") == hub);
  CHECK(parse_mirror_registry("https://quay.io/") == MirrorRegistry{"quay.io", 443});
  CHECK(parse_mirror_registry("registry.test:5000") == MirrorRegistry{"registry.test", 5000});
  CHECK(parse_mirror_registry("docker.io:5000") == MirrorRegistry{"docker.io", 5000});
  CHECK(parse_mirror_registry("[::1]:5000") == MirrorRegistry{"::1", 5000});
  CHECK_FALSE(parse_mirror_registry(""));
  CHECK_FALSE(parse_mirror_registry("quay.io/org"));
  CHECK_FALSE(parse_mirror_registry("host:99999"));
  CHECK(MirrorRegistry{"registry.test", 5000}.authority() == "registry.test:5000");
  CHECK(hub.authority() == "registry-1.docker.io");
}

TEST_CASE("mirror: /v2/ is the mirror's own ping") {
  CHECK(route_mirror_request("/v2/", hub).kind == MirrorRoute::Kind::ping);
  CHECK(route_mirror_request("/v2", hub).kind == MirrorRoute::Kind::ping);
  CHECK(route_mirror_request("/v2/?ns=quay.io", hub).kind == MirrorRoute::Kind::ping);
}

TEST_CASE("mirror: containerd's ns= names the registry and is not sent upstream") {
  auto r = route_mirror_request("/v2/org/app/manifests/1.0?ns=quay.io", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == MirrorRegistry{"quay.io", 443});
  CHECK(r.repository == "org/app");
  CHECK(r.target == "/v2/org/app/manifests/1.0");

  r = route_mirror_request("/v2/library/alpine/blobs/sha256:abc?ns=docker.io", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == hub);
  CHECK(r.target == "/v2/library/alpine/blobs/sha256:abc");

  // A port, percent-encoded or not; other parameters are kept in order.
  r = route_mirror_request("/v2/app/tags/list?n=10&ns=registry.test%3A5000&last=b", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == MirrorRegistry{"registry.test", 5000});
  CHECK(r.repository == "app");  // not Docker Hub: no library/
  CHECK(r.target == "/v2/app/tags/list?n=10&last=b");

  CHECK(route_mirror_request("/v2/app/manifests/1?ns=bad%zz", hub).kind == MirrorRoute::Kind::bad_name);
  CHECK(route_mirror_request("/v2/app/manifests/1?ns=a/b", hub).kind == MirrorRoute::Kind::bad_name);
}

TEST_CASE("mirror: a host-like first path component names the registry") {
  auto r = route_mirror_request("/v2/quay.io/org/app/manifests/latest", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == MirrorRegistry{"quay.io", 443});
  CHECK(r.repository == "org/app");
  CHECK(r.target == "/v2/org/app/manifests/latest");

  r = route_mirror_request("/v2/registry.test:5000/app/blobs/sha256:00", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == MirrorRegistry{"registry.test", 5000});
  CHECK(r.target == "/v2/app/blobs/sha256:00");

  r = route_mirror_request("/v2/localhost/app/manifests/1", hub);
  CHECK(r.registry == MirrorRegistry{"localhost", 443});

  // docker.io in the path is Docker Hub, with library/ for official images.
  r = route_mirror_request("/v2/docker.io/alpine/manifests/3", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == hub);
  CHECK(r.target == "/v2/library/alpine/manifests/3");

  // ns= wins over the path: the path is then the repository as is.
  r = route_mirror_request("/v2/quay.io/org/app/manifests/1?ns=ghcr.io", hub);
  CHECK(r.registry == MirrorRegistry{"ghcr.io", 443});
  CHECK(r.repository == "quay.io/org/app");
}

TEST_CASE("mirror: plain names go to MIRROR_UPSTREAM; Docker Hub adds library/") {
  auto r = route_mirror_request("/v2/alpine/manifests/3.19", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == hub);
  CHECK(r.repository == "library/alpine");
  CHECK(r.target == "/v2/library/alpine/manifests/3.19");

  r = route_mirror_request("/v2/bitnami/redis/blobs/uploads/", hub);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.repository == "bitnami/redis");
  CHECK(r.target == "/v2/bitnami/redis/blobs/uploads/");

  const MirrorRegistry own{"registry.test", 5000};
  r = route_mirror_request("/v2/team/app/referrers/sha256:1", own);
  REQUIRE(r.kind == MirrorRoute::Kind::registry);
  CHECK(r.registry == own);
  CHECK(r.target == "/v2/team/app/referrers/sha256:1");
}

TEST_CASE("mirror: repository names that are not API paths or not valid") {
  CHECK(route_mirror_request("/ca.crt", hub).kind == MirrorRoute::Kind::not_found);
  CHECK(route_mirror_request("/v2/_catalog", hub).kind == MirrorRoute::Kind::not_found);
  CHECK(route_mirror_request("/v2/app/whatever", hub).kind == MirrorRoute::Kind::not_found);
  CHECK(route_mirror_request("/v2//manifests/1", hub).kind == MirrorRoute::Kind::not_found);
  CHECK(route_mirror_request("/v2/a/../b/manifests/1", hub).kind == MirrorRoute::Kind::bad_name);
  CHECK(route_mirror_request("/v2/Upper/manifests/1", hub).kind == MirrorRoute::Kind::bad_name);
  CHECK(route_mirror_request("/v2/a%2fb/manifests/1", hub).kind == MirrorRoute::Kind::bad_name);
  CHECK(route_mirror_request("/v2/a//b/manifests/1", hub).kind == MirrorRoute::Kind::bad_name);
  CHECK(route_mirror_request("/v2/quay.io/manifests/1", hub).kind == MirrorRoute::Kind::registry);  // a repo "quay.io"
  CHECK(route_mirror_request("/v2/bad_host:x/app/manifests/1", hub).kind == MirrorRoute::Kind::bad_name);
}

TEST_CASE("registry-style JSON errors") {
  CHECK(registry_error_json("DENIED", "no \"relay\"") ==
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no \\\"relay\\\"\"}]}\n");
}
