#include "proxy/ops/setup_scripts.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using namespace pt::ops;

TEST_CASE("the set-up scripts are embedded") {
  const auto file = embedded_setup_file("systemd");
  REQUIRE(file);
  CHECK(file->starts_with("#!/bin/sh\n"));
  CHECK_FALSE(embedded_setup_file("nope"));
  CHECK(setup_script_names() == std::vector<std::string>{"systemd", "containerd"});
}

TEST_CASE("served scripts default to the proxy as the client reached it") {
  const auto docker = render_setup_script("systemd", "proxy.example:3128");
  REQUIRE(docker);
  CHECK(docker->starts_with("#!/bin/sh\n# Served by pullthrough"));
  CHECK_THAT(*docker, Catch::Contains(": \"${PROXY_URL:=http://proxy.example:3128}\"\n") &&
                          Catch::Contains(": \"${SERVICE:=docker}\"\n"));
  const auto containerd = render_setup_script("containerd", "[fd00::1]:3128");
  REQUIRE(containerd);
  CHECK_THAT(*containerd, Catch::Contains("http://[fd00::1]:3128") && Catch::Contains(": \"${SERVICE:=containerd}\""));
  CHECK_FALSE(render_setup_script("nope", "proxy:3128"));
}

TEST_CASE("a Host header that a shell would interpret is refused") {
  CHECK(is_safe_host("proxy.example:3128"));
  CHECK(is_safe_host("10.0.0.7"));
  CHECK(is_safe_host("[::1]:3128"));
  for (const char* bad : {"", "a b", "x$(id)", "x`id`", "x;id", "x\"y", "x'y", "x\\y", "x\ny", "x/y", "x}y"}) {
    INFO(bad);
    CHECK_FALSE(is_safe_host(bad));
    CHECK_FALSE(render_setup_script("systemd", bad));
  }
}
