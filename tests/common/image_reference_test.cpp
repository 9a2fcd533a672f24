#include "common/image_reference.hpp"

#include <catch2/catch.hpp>

using namespace pt;

namespace {
ImageReference parsed(std::string_view text) {
  auto p = parse_image_reference(text);
  INFO(text << ": " << p.error);
  REQUIRE(p.reference);
  return *p.reference;
}
}  // namespace

TEST_CASE("Docker Hub references are normalised like docker does") {
  for (const auto* text : {"ubuntu:18.04", "library/ubuntu:18.04", "docker.io/ubuntu:18.04",
                           "docker.io/library/ubuntu:18.04", "index.docker.io/library/ubuntu:18.04",
                           "index.docker.io/ubuntu:18.04", "registry-1.docker.io/library/ubuntu:18.04",
                           "registry.hub.docker.com/ubuntu:18.04", "Docker.IO/ubuntu:18.04"}) {
    const auto ref = parsed(text);
    CHECK(ref.registry == "docker.io");
    CHECK(ref.repository == "library/ubuntu");
    CHECK(ref.tag == "18.04");
    CHECK(ref.digest.empty());
    CHECK(ref.str() == "docker.io/library/ubuntu:18.04");
  }
  const auto user = parsed("someone/app");
  CHECK(user.full_repository() == "docker.io/someone/app");
  CHECK(user.tag.empty());  // no "latest": that is a pull's default, not the parser's
}

TEST_CASE("the first component names a registry when it has a dot, a colon or is localhost") {
  const auto quay = parsed("Quay.IO/org/app:1");
  CHECK(quay.registry == "quay.io");
  CHECK(quay.repository == "org/app");
  CHECK(quay.str() == "quay.io/org/app:1");

  const auto local = parsed("localhost:5000/app");
  CHECK(local.registry == "localhost:5000");
  CHECK(local.repository == "app");  // no library/ outside Docker Hub
  CHECK(local.tag.empty());

  CHECK(parsed("localhost/app").registry == "localhost");
  CHECK(parsed("org/app").registry == "docker.io");
  CHECK(parsed("localhost").repository == "library/localhost");  // nothing follows: a Hub name
  // With a port, Docker Hub's names are some other server (as for docker).
  CHECK(parsed("docker.io:5000/app") == ImageReference{"docker.io:5000", "app", "", ""});

  CHECK(registry_component("quay.io/org/app") == "quay.io");
  CHECK(registry_component("localhost/app") == "localhost");
  CHECK_FALSE(registry_component("org/app"));
  CHECK_FALSE(registry_component("quay.io"));
}

TEST_CASE("digests and tags") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  const auto by_digest = parsed("ubuntu@" + digest);
  CHECK(by_digest.digest == digest);
  CHECK(by_digest.tag.empty());
  CHECK(by_digest.str() == "docker.io/library/ubuntu@" + digest);

  const auto both = parsed("quay.io/org/app:1.2@" + digest);
  CHECK(both.tag == "1.2");
  CHECK(both.digest == digest);
  CHECK(both.str() == "quay.io/org/app:1.2@" + digest);
  CHECK(parsed("app:" + std::string(128, 'v')).tag.size() == 128);
}

TEST_CASE("repository names follow docker's grammar") {
  CHECK(parsed("a-b/c__d/e.f/g---h").repository == "a-b/c__d/e.f/g---h");
  for (const auto* text : {"a..b", "a___b", "a._b", "a-/b", "_a"}) {
    INFO(text);
    CHECK_FALSE(parse_image_reference(text).reference);
  }
}

TEST_CASE("invalid references are refused with a reason that does not quote them") {
  for (const auto* text : {"", "Ubuntu", "ubuntu:", "ubuntu:-x", "ubuntu@sha256:xyz", "a//b", "/ubuntu",
                           "ubuntu/", "quay.io/", "bad space", "ubuntu:a\r\nX: y", "quay.io/a@", "qu@y.io/a",
                           "quay.io%/a"}) {
    const auto p = parse_image_reference(text);
    INFO(text);
    CHECK_FALSE(p.reference);
    CHECK_FALSE(p.error.empty());
    CHECK(p.error.find('\r') == std::string::npos);
  }
  CHECK_FALSE(parse_image_reference("app:" + std::string(129, 'v')).reference);
  CHECK_FALSE(parse_image_reference("r.io/" + std::string(251, 'a')).reference);  // 256 with the registry
  CHECK(parse_image_reference("r.io/" + std::string(250, 'a')).reference);
  CHECK_FALSE(parse_image_reference(std::string(5000, 'a')).reference);
}

TEST_CASE("Docker Hub's four names are one registry") {
  for (const auto* hub : {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
                          "Registry-1.Docker.IO"}) {
    INFO(hub);
    CHECK(is_docker_hub(hub));
    CHECK(canonical_registry(hub) == "docker.io");
    CHECK(registry_host(hub) == "registry-1.docker.io");
  }
  for (const auto* other : {"docker.io:443", "docker.io:5000", "hub.docker.com", "auth.docker.io", "docker.iox", ""}) {
    INFO(other);
    CHECK_FALSE(is_docker_hub(other));
  }
  CHECK(canonical_registry("Quay.IO") == "quay.io");
  CHECK(registry_host("Quay.IO:8443") == "quay.io:8443");
}
