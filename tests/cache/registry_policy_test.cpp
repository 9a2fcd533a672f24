#include "cache/registry_policy.hpp"

#include <catch2/catch.hpp>

using pt::cache::RegistryPolicy;
using pt::cache::RequestKind;
using namespace std::chrono_literals;

namespace {

RegistryPolicy parsed(std::string_view text) {
  auto policy = RegistryPolicy::parse(text);
  INFO(policy.error);
  REQUIRE(policy);
  return *policy.value;
}

}  // namespace

TEST_CASE("Repository patterns: '*' is any run of characters, '/' included, on whole names") {
  using pt::cache::matches_repository_pattern;
  CHECK(matches_repository_pattern("library/*", "library/alpine"));
  CHECK(matches_repository_pattern("library/*", "library/a/b"));
  CHECK_FALSE(matches_repository_pattern("library/*", "library"));
  CHECK_FALSE(matches_repository_pattern("library/*", "other/library/x"));
  CHECK(matches_repository_pattern("library/evil*", "library/evil"));
  CHECK(matches_repository_pattern("library/evil*", "library/evil-twin"));
  CHECK_FALSE(matches_repository_pattern("library/evil*", "library/good"));
  CHECK(matches_repository_pattern("*/app", "team/app"));
  CHECK(matches_repository_pattern("*a*b*c", "xaxbxbxc"));
  CHECK_FALSE(matches_repository_pattern("*a*b*c", "xaxbxbx"));
  CHECK(matches_repository_pattern("*", "anything/at/all"));
  CHECK(matches_repository_pattern("team/app", "team/app"));
  CHECK_FALSE(matches_repository_pattern("team/app", "team/app2"));
}

TEST_CASE("REGISTRY_POLICY: allow and deny lists per registry, Docker Hub under any of its names") {
  const auto policy = parsed("docker.io tag_freshness=10m max_share=50% deny=library/evil*,library/bad ;"
                             " ghcr.io allow=myorg/* \n registry.test:5000 deny=secret/*");
  CHECK_FALSE(policy.check_access("registry-1.docker.io", "library/alpine"));
  const auto evil = policy.check_access("registry-1.docker.io", "library/evil-twin");
  REQUIRE(evil);
  CHECK(evil->rule == "docker.io deny=library/evil*");
  CHECK(evil->message.find("library/evil-twin") != std::string::npos);
  CHECK(evil->message.find("docker.io deny=library/evil*") != std::string::npos);
  CHECK(policy.check_access("registry-1.docker.io", "library/bad"));

  CHECK_FALSE(policy.check_access("ghcr.io", "myorg/app"));
  const auto other = policy.check_access("ghcr.io", "otherorg/app");
  REQUIRE(other);
  CHECK(other->rule == "ghcr.io allow=myorg/*");
  CHECK(policy.check_access("registry.test:5000", "secret/x"));
  CHECK_FALSE(policy.check_access("registry.test:5000", "public/x"));
  CHECK_FALSE(policy.check_access("registry.test", "secret/x"));  // another port, another registry
  CHECK_FALSE(policy.check_access("quay.io", "anything"));

  // Requests: pulls of a repository are checked, the rest passes.
  pt::cache::RegistryRequest blob{.kind = RequestKind::blob, .repository = "library/evil"};
  CHECK(policy.check("registry-1.docker.io", blob));
  for (auto kind : {RequestKind::manifest_by_tag, RequestKind::manifest_by_digest, RequestKind::tag_list}) {
    CHECK(policy.check("registry-1.docker.io", {.kind = kind, .repository = "library/evil"}));
  }
  CHECK_FALSE(policy.check("registry-1.docker.io", {.kind = RequestKind::ping}));
  CHECK_FALSE(policy.check("registry-1.docker.io", {.kind = RequestKind::other}));

  for (const auto* hub : {"index.docker.io", "registry-1.docker.io", "DOCKER.IO", "docker.io:443"}) {
    const auto same = parsed(std::string(hub) + " deny=x/*");
    CHECK(same.check_access("registry-1.docker.io", "x/y"));
  }
}

TEST_CASE("REGISTRY_POLICY: deny wins over allow; allow lists of entries of one registry add up") {
  const auto policy = parsed("ghcr.io allow=myorg/*,partner/app deny=myorg/old* ; ghcr.io/myorg/* deny=myorg/tmp ;"
                             " ghcr.io allow=tools/*");
  CHECK_FALSE(policy.check_access("ghcr.io", "myorg/app"));
  CHECK_FALSE(policy.check_access("ghcr.io", "partner/app"));
  CHECK_FALSE(policy.check_access("ghcr.io", "tools/x"));
  CHECK(policy.check_access("ghcr.io", "partner/other"));
  CHECK(policy.check_access("ghcr.io", "myorg/old-app")->rule == "ghcr.io deny=myorg/old*");
  CHECK(policy.check_access("ghcr.io", "myorg/tmp")->rule == "ghcr.io/myorg/* deny=myorg/tmp");
}

TEST_CASE("REGISTRY_POLICY: tag freshness per registry or repository pattern, first entry wins") {
  const auto policy = parsed("docker.io/library/* tag_freshness=30s ; docker.io tag_freshness=10m ;"
                             " registry.test:5000 tag_freshness=0 deny=x");
  CHECK(policy.tag_freshness("registry-1.docker.io", "library/alpine") == 30s);
  CHECK(policy.tag_freshness("registry-1.docker.io", "team/app") == 10min);
  CHECK(policy.tag_freshness("registry.test:5000", "a") == 0s);
  CHECK_FALSE(policy.tag_freshness("quay.io", "a"));
}

TEST_CASE("REGISTRY_POLICY: max_share per registry, as a fraction") {
  const auto policy = parsed("docker.io max_share=50% ; quay.io max_share=12.5% ; ghcr.io allow=a");
  const auto shares = policy.shares();
  REQUIRE(shares.size() == 2);
  CHECK(shares.at("registry-1.docker.io") == Approx(0.5));
  CHECK(shares.at("quay.io") == Approx(0.125));
  CHECK(parsed("").empty());
  CHECK(parsed(" ; \n ").empty());
  CHECK(parsed("docker.io max_share=50% deny=x/*").describe() ==
        std::vector<std::string>{"registry-1.docker.io max_share=50% deny=x/*"});
}

TEST_CASE("REGISTRY_POLICY: bad entries are refused, naming the entry") {
  const auto error = [](std::string_view text) {
    const auto result = RegistryPolicy::parse(text);
    CHECK_FALSE(result);
    return result.error;
  };
  CHECK(error("docker.io deny=x ; ghcr.io tag_freshness=soon").find("entry 2 (ghcr.io)") != std::string::npos);
  CHECK(error("ghcr.io tag_freshness=soon").find("tag_freshness") != std::string::npos);
  CHECK(error("ghcr.io max_share=50").find("max_share") != std::string::npos);
  CHECK(error("ghcr.io max_share=0%").find("max_share") != std::string::npos);
  CHECK(error("ghcr.io max_share=101%").find("max_share") != std::string::npos);
  CHECK(error("ghcr.io max_share=abc%").find("max_share") != std::string::npos);
  CHECK(error("ghcr.io/team/* max_share=10%").find("whole registry") != std::string::npos);
  CHECK(error("docker.io max_share=10% ; index.docker.io max_share=20%").find("second max_share") != std::string::npos);
  CHECK(error("ghcr.io allow=My/App").find("allow") != std::string::npos);
  CHECK(error("ghcr.io deny=").find("deny") != std::string::npos);
  CHECK(error("ghcr.io deny=/x").find("deny") != std::string::npos);
  CHECK(error("ghcr.io colour=blue").find("unknown field 'colour'") != std::string::npos);
  CHECK(error("ghcr.io allow").find("field=value") != std::string::npos);
  CHECK(error("ghcr.io").find("sets nothing") != std::string::npos);
  CHECK(error("allow=x").find("starts with its registry") != std::string::npos);
  CHECK(error("bad_host! deny=x").find("registry name") != std::string::npos);
  CHECK(error("ghcr.io tag_freshness=1m tag_freshness=2m").find("twice") != std::string::npos);
  // Hostile bytes never reach the message raw.
  CHECK(error(std::string("ghcr.io allow=\x1b[31m")).find('\x1b') == std::string::npos);
}
