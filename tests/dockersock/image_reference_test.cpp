#include "dockersock/image_reference.hpp"

#include <catch2/catch.hpp>

using namespace pt::dockersock;

namespace {
ImageReference parsed(std::string_view text) {
  auto p = parse_reference(text);
  INFO(text << ": " << p.error);
  REQUIRE(p.reference);
  return *p.reference;
}
}  // namespace

TEST_CASE("Docker Hub references are normalised like docker does") {
  for (const auto* text : {"ubuntu:18.04", "library/ubuntu:18.04", "docker.io/ubuntu:18.04",
                           "docker.io/library/ubuntu:18.04", "index.docker.io/library/ubuntu:18.04",
                           "index.docker.io/ubuntu:18.04", "registry-1.docker.io/library/ubuntu:18.04"}) {
    const auto ref = parsed(text);
    CHECK(ref.registry == "docker.io");
    CHECK(ref.repository == "library/ubuntu");
    CHECK(ref.tag == "18.04");
    CHECK(ref.digest.empty());
    CHECK(mirror_repository(ref, "mirror:5000") == "mirror:5000/library/ubuntu");
  }
  const auto user = parsed("someone/app");
  CHECK(user.full_repository() == "docker.io/someone/app");
  CHECK(user.tag.empty());
  CHECK(with_default_tag(user).tag == "latest");
}

TEST_CASE("the first component names a registry when it has a dot, a colon or is localhost") {
  const auto quay = parsed("quay.io/org/app:1");
  CHECK(quay.registry == "quay.io");
  CHECK(quay.repository == "org/app");
  CHECK(mirror_repository(quay, "m.example:5000") == "m.example:5000/quay.io/org/app");

  const auto local = parsed("localhost:5000/app");
  CHECK(local.registry == "localhost:5000");
  CHECK(local.repository == "app");
  CHECK(local.tag.empty());

  CHECK(parsed("localhost/app").registry == "localhost");
  CHECK(parsed("org/app").registry == "docker.io");
}

TEST_CASE("digests and tags") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  const auto by_digest = parsed("ubuntu@" + digest);
  CHECK(by_digest.digest == digest);
  CHECK(by_digest.tag.empty());
  CHECK(with_default_tag(by_digest).tag.empty());
  CHECK(with_suffix("m/library/ubuntu", by_digest) == "m/library/ubuntu@" + digest);

  const auto both = parsed("quay.io/org/app:1.2@" + digest);
  CHECK(both.tag == "1.2");
  CHECK(both.digest == digest);
  CHECK(with_suffix("x", both) == "x@" + digest);  // a digest wins, as for the engine
  CHECK(with_suffix("x", parsed("x:1")) == "x:1");
}

TEST_CASE("invalid references are refused with a reason") {
  for (const auto* text : {"", "Ubuntu", "ubuntu:", "ubuntu:-x", "ubuntu@sha256:xyz", "a//b", "/ubuntu",
                           "ubuntu/", "quay.io/", "bad space", "ubuntu:a\r\nX: y"}) {
    const auto p = parse_reference(text);
    INFO(text);
    CHECK_FALSE(p.reference);
    CHECK_FALSE(p.error.empty());
  }
}

TEST_CASE("registry names in the rewrite list are normalised") {
  CHECK(normalize_registry("Index.Docker.io") == "docker.io");
  CHECK(normalize_registry("registry-1.docker.io") == "docker.io");
  CHECK(normalize_registry("Quay.IO") == "quay.io");
}
