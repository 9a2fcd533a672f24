#include "dockersock/pull_rewrite.hpp"

#include <catch2/catch.hpp>

using namespace pt::dockersock;

TEST_CASE("query strings are decoded and encoded") {
  const auto q = Query::parse("fromImage=quay.io%2Forg%2Fapp&tag=1&platform=linux%2Famd64&flag&x=a+b");
  CHECK(q.get("fromImage") == "quay.io/org/app");
  CHECK(q.get("tag") == "1");
  CHECK(q.get("flag") == "");
  CHECK(q.get("x") == "a b");
  CHECK_FALSE(q.get("missing"));
  CHECK(Query::parse("a=%zz").get("a") == "%zz");
  Query built;
  built.set("fromImage", "m:5000/library/ubuntu");
  built.set("tag", "18.04");
  built.set("tag", "20.04");
  CHECK(built.encode() == "fromImage=m%3A5000%2Flibrary%2Fubuntu&tag=20.04");
}

TEST_CASE("API targets keep their version prefix") {
  auto t = split_target("/v1.43/images/create?fromImage=ubuntu&tag=18.04");
  CHECK(t.version_prefix == "/v1.43");
  CHECK(t.path == "/images/create");
  CHECK(t.query == "fromImage=ubuntu&tag=18.04");
  CHECK(classify("POST", t) == Endpoint::image_create);
  CHECK(classify("GET", t) == Endpoint::other);

  t = split_target("/containers/create?name=x");
  CHECK(t.version_prefix.empty());
  CHECK(classify("POST", t) == Endpoint::container_create);
  CHECK(classify("POST", split_target("/v1.43/containers/json")) == Endpoint::other);
  CHECK(split_target("/version").path == "/version");
  CHECK(split_target("/volumes/x").version_prefix.empty());
}

TEST_CASE("an images/create pull of a listed registry goes via the mirror") {
  const RewritePolicy policy("mirror.test:5000", split_registry_list("docker.io, quay.io"));
  SECTION("Docker Hub, tag parameter") {
    const auto d = plan_image_create(Query::parse("fromImage=ubuntu&tag=18.04&platform=linux%2Farm64"), policy);
    REQUIRE(d.plan);
    CHECK(d.plan->mirror_reference == "mirror.test:5000/library/ubuntu:18.04");
    CHECK(d.plan->mirror_query.get("fromImage") == "mirror.test:5000/library/ubuntu");
    CHECK(d.plan->mirror_query.get("tag") == "18.04");
    CHECK(d.plan->mirror_query.get("platform") == "linux/arm64");
    CHECK(d.plan->tag_target == "/images/mirror.test:5000/library/ubuntu:18.04/tag?repo=ubuntu&tag=18.04");
  }
  SECTION("tag inside fromImage, other registry") {
    const auto d = plan_image_create(Query::parse("fromImage=quay.io%2Forg%2Fapp%3A1"), policy);
    REQUIRE(d.plan);
    CHECK(d.plan->mirror_reference == "mirror.test:5000/quay.io/org/app:1");
    CHECK(d.plan->tag_target == "/images/mirror.test:5000/quay.io/org/app:1/tag?repo=quay.io%2Forg%2Fapp&tag=1");
  }
  SECTION("a digest in the tag parameter: no tag back") {
    const std::string digest = "sha256:" + std::string(64, 'b');
    const auto d = plan_image_create(Query::parse("fromImage=ubuntu&tag=" + digest), policy);
    REQUIRE(d.plan);
    CHECK(d.plan->mirror_reference == "mirror.test:5000/library/ubuntu@" + digest);
    CHECK(d.plan->mirror_query.get("tag") == digest);
    CHECK(d.plan->tag_target.empty());
  }
  SECTION("unchanged: other registries, every tag, imports, the mirror itself, bad names") {
    CHECK_FALSE(plan_image_create(Query::parse("fromImage=gcr.io%2Fx%2Fy&tag=1"), policy).plan);
    CHECK_FALSE(plan_image_create(Query::parse("fromImage=ubuntu"), policy).plan);
    CHECK_FALSE(plan_image_create(Query::parse("fromSrc=-&repo=x"), policy).plan);
    CHECK_FALSE(plan_image_create(Query::parse("fromImage=mirror.test:5000/library/ubuntu&tag=1"), policy).plan);
    const auto bad = plan_image_create(Query::parse("fromImage=Ubuntu&tag=1"), policy);
    CHECK_FALSE(bad.plan);
    CHECK_FALSE(bad.reason.empty());
  }
}

TEST_CASE("the image of containers/create gets tag latest and the create's platform") {
  const RewritePolicy policy("m:1", {"docker.io"});
  const auto d = plan_container_image("busybox", "linux/amd64", policy);
  REQUIRE(d.plan);
  CHECK(d.plan->mirror_reference == "m:1/library/busybox:latest");
  CHECK(d.plan->mirror_query.encode() == "fromImage=m%3A1%2Flibrary%2Fbusybox&tag=latest&platform=linux%2Famd64");
  CHECK(d.plan->tag_target == "/images/m:1/library/busybox:latest/tag?repo=busybox&tag=latest");
  CHECK_FALSE(plan_container_image("quay.io/a/b", "", policy).plan);
}

TEST_CASE("registry lists split on commas and spaces") {
  CHECK(split_registry_list("docker.io,quay.io  ghcr.io,") == std::vector<std::string>{"docker.io", "quay.io", "ghcr.io"});
  const RewritePolicy policy("m", {"index.docker.io"});
  CHECK(policy.registries() == std::set<std::string>{"docker.io"});
}

TEST_CASE("rewrite lists know Docker Hub by any of its names") {
  for (const auto* hub : {"docker.io", "Index.Docker.io", "registry-1.docker.io", "registry.hub.docker.com"}) {
    INFO(hub);
    const RewritePolicy policy("m:1", {hub, "Quay.IO"});
    CHECK(policy.registries() == std::set<std::string>{"docker.io", "quay.io"});
    for (const auto* image : {"ubuntu:1", "registry.hub.docker.com/library/ubuntu:1", "quay.io/org/app:1"}) {
      INFO(image);
      CHECK(plan_container_image(image, "", policy).plan);
    }
  }
}

TEST_CASE("mirror names: the registry in the path unless it is Docker Hub") {
  const auto ref = [](std::string_view text) {
    auto parsed = pt::parse_image_reference(text);
    REQUIRE(parsed.reference);
    return *parsed.reference;
  };
  CHECK(mirror_repository(ref("index.docker.io/ubuntu"), "mirror:5000") == "mirror:5000/library/ubuntu");
  CHECK(mirror_repository(ref("someone/app"), "mirror:5000") == "mirror:5000/someone/app");
  CHECK(mirror_repository(ref("quay.io/org/app:1"), "m.example:5000") == "m.example:5000/quay.io/org/app");
  CHECK(mirror_repository(ref("localhost:5000/app"), "m") == "m/localhost:5000/app");

  const std::string digest = "sha256:" + std::string(64, 'a');
  CHECK(with_suffix("m/library/ubuntu", ref("ubuntu@" + digest)) == "m/library/ubuntu@" + digest);
  // A digest wins, as for the engine.
  CHECK(with_suffix("x", ref("quay.io/org/app:1.2@" + digest)) == "x@" + digest);
  CHECK(with_suffix("x", ref("x:1")) == "x:1");
  CHECK(with_suffix("x", ref("x")) == "x");

  CHECK(with_default_tag(ref("someone/app")).tag == "latest");
  CHECK(with_default_tag(ref("app:1")).tag == "1");
  CHECK(with_default_tag(ref("ubuntu@" + digest)).tag.empty());
}
