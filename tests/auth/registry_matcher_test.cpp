#include "auth/registry_matcher.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pt::auth;
using Entries = std::vector<std::string>;

TEST_CASE("Docker Hub is always intercepted, on any port") {
  const RegistryMatcher matcher;
  for (auto host : RegistryMatcher::docker_hub_hosts()) {
    CHECK(matcher.intercepts(host, 443));
    CHECK(matcher.intercepts(host, 80));
  }
  CHECK(matcher.intercepts("Registry-1.Docker.IO", 443));
  CHECK(matcher.intercepts("registry-1.docker.io.", 443));
  CHECK_FALSE(matcher.intercepts("quay.io", 443));
  CHECK_FALSE(matcher.intercepts("docker.io", 443));
  CHECK(matcher.entries() ==
        Entries{"registry-1.docker.io", "auth.docker.io", "index.docker.io", "production.cloudflare.docker.com"});
}

TEST_CASE("REGISTRIES entries are separated by spaces, commas or newlines") {
  const RegistryMatcher matcher("quay.io  gcr.io,k8s.gcr.io\nregistry.k8s.io\t ghcr.io, ");
  for (auto host : {"quay.io", "gcr.io", "k8s.gcr.io", "registry.k8s.io", "ghcr.io"}) {
    CHECK(matcher.intercepts(host, 443));
  }
  CHECK_FALSE(matcher.intercepts("example.com", 443));
  CHECK(matcher.entries().size() == 4 + 5);
  CHECK(RegistryMatcher("").entries().size() == 4);
}

TEST_CASE("an entry with a port matches only that port; without, any port") {
  const RegistryMatcher matcher("myreg:5000 other.example");
  CHECK(matcher.intercepts("myreg", 5000));
  CHECK_FALSE(matcher.intercepts("myreg", 443));
  CHECK(matcher.intercepts("other.example", 443));
  CHECK(matcher.intercepts("other.example", 8443));
  CHECK(matcher.entries().back() == "other.example");
}

TEST_CASE("matching is case-insensitive") {
  const RegistryMatcher matcher("Quay.IO");
  CHECK(matcher.intercepts("quay.io", 443));
  CHECK(matcher.intercepts("QUAY.io", 443));
  CHECK(matcher.entries().back() == "quay.io");
}

TEST_CASE("URL decoration is normalised away") {
  const RegistryMatcher matcher("https://quay.io/ HTTP://myreg:5000// https://ghcr.io");
  CHECK(matcher.intercepts("quay.io", 443));
  CHECK(matcher.intercepts("myreg", 5000));
  CHECK(matcher.intercepts("ghcr.io", 443));
  CHECK(matcher.entries() == Entries{"registry-1.docker.io", "auth.docker.io", "index.docker.io",
                                     "production.cloudflare.docker.com", "quay.io", "myreg:5000", "ghcr.io"});
}

TEST_CASE("docker.io names Docker Hub and adds nothing") {
  const RegistryMatcher matcher("docker.io DOCKER.IO https://docker.io/");
  CHECK(matcher.entries().size() == 4);
  CHECK(matcher.intercepts("registry-1.docker.io", 443));
}

TEST_CASE("wildcard entries intercept every name below the suffix") {
  const RegistryMatcher matcher("*.pkg.dev");
  CHECK(matcher.intercepts("europe-docker.pkg.dev", 443));
  CHECK_FALSE(matcher.intercepts("pkg.dev", 443));
}

TEST_CASE("duplicates are listed once") {
  RegistryMatcher matcher("quay.io quay.io registry-1.docker.io");
  matcher.add_host("Quay.io", std::nullopt);
  matcher.add_host("quay.io", 8443);
  CHECK(matcher.entries() == Entries{"registry-1.docker.io", "auth.docker.io", "index.docker.io",
                                     "production.cloudflare.docker.com", "quay.io", "quay.io:8443"});
}

TEST_CASE("hosts from other settings can be added") {
  RegistryMatcher matcher;
  matcher.add("myreg.example:5000");
  matcher.add_host("private.example", std::nullopt);
  CHECK(matcher.intercepts("myreg.example", 5000));
  CHECK(matcher.intercepts("private.example", 443));
}

TEST_CASE("bad REGISTRIES entries are rejected, naming the entry") {
  CHECK_THROWS_AS(RegistryMatcher("quay.io bad_host!"), std::invalid_argument);
  CHECK_THROWS_WITH(RegistryMatcher("quay.io bad_host!"), Catch::Contains("'bad_host!'"));
  CHECK_THROWS_WITH(RegistryMatcher("ghcr.io/myorg"),
                    Catch::Contains("'ghcr.io/myorg'") && Catch::Contains("write 'ghcr.io'"));
  CHECK_THROWS_WITH(RegistryMatcher("https://quay.io/v2/"), Catch::Contains("write 'quay.io'"));
  CHECK_THROWS_WITH(RegistryMatcher("ftp://quay.io"), Catch::Contains("'ftp://quay.io'"));
  CHECK_THROWS_WITH(RegistryMatcher("https://"), Catch::Contains("empty host"));
  CHECK_THROWS_WITH(RegistryMatcher("myreg:0"), Catch::Contains("'myreg:0'") && Catch::Contains("port"));
  CHECK_THROWS_WITH(RegistryMatcher("myreg:http"), Catch::Contains("port"));
  CHECK_THROWS_WITH(RegistryMatcher("*"), Catch::Contains("'*'"));
  CHECK_THROWS_WITH(RegistryMatcher("a\x01"), Catch::Contains("'a?'"));
  RegistryMatcher matcher;
  CHECK_THROWS_AS(matcher.add("bad host"), std::invalid_argument);
}

TEST_CASE("IP literal registries are matched by their canonical form") {
  const RegistryMatcher matcher("10.0.0.5:5000 [fd00::5]:5000");
  CHECK(matcher.intercepts("10.0.0.5", 5000));
  CHECK(matcher.intercepts("fd00::5", 5000));
  CHECK(matcher.intercepts("[fd00::5]", 5000));
  CHECK_FALSE(matcher.intercepts("fd00::5", 443));
}

TEST_CASE("RegistryMatcher::replace swaps the whole set") {
  RegistryMatcher live("quay.io");
  CHECK(live.intercepts("quay.io", 443));
  live.replace(RegistryMatcher("ghcr.io myreg:5000"));
  CHECK_FALSE(live.intercepts("quay.io", 443));
  CHECK(live.intercepts("ghcr.io", 443));
  CHECK(live.intercepts("registry-1.docker.io", 443));  // Docker Hub, always
  CHECK(live.ports() == std::vector<std::uint16_t>{5000});
  const RegistryMatcher copy(live);
  live.add_host("other.io", std::nullopt);
  CHECK(live.intercepts("other.io", 443));
  CHECK_FALSE(copy.intercepts("other.io", 443));  // a copy is a snapshot
}
