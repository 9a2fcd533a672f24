#include "proxy/net/resolve_overrides.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using pt::net::ResolveOverrides;
using Target = ResolveOverrides::Target;

TEST_CASE("no overrides resolve nothing") {
  CHECK_FALSE(ResolveOverrides().lookup("quay.io"));
  CHECK(ResolveOverrides("").empty());
  CHECK(ResolveOverrides(" , \n").empty());
}

TEST_CASE("exact names map to an address, optionally with a port") {
  const ResolveOverrides overrides("quay.io=10.0.0.5 myreg=10.0.0.6:5000,v6.example=fd00::5\nv6p.example=[FD00::6]:443 "
                                   "v6b.example=[fd00::7]");
  CHECK(overrides.lookup("quay.io") == Target{"10.0.0.5", std::nullopt});
  CHECK(overrides.lookup("myreg") == Target{"10.0.0.6", 5000});
  CHECK(overrides.lookup("v6.example") == Target{"fd00::5", std::nullopt});
  CHECK(overrides.lookup("v6p.example") == Target{"fd00::6", 443});
  CHECK(overrides.lookup("v6b.example") == Target{"fd00::7", std::nullopt});
  CHECK_FALSE(overrides.lookup("cdn.quay.io"));
  CHECK_FALSE(overrides.lookup("quay.i"));
  CHECK_FALSE(overrides.lookup(""));
}

TEST_CASE("names are case-insensitive and a trailing dot is ignored") {
  const ResolveOverrides overrides("Quay.IO=10.0.0.5 *.Example.COM=10.0.0.9");
  CHECK(overrides.lookup("QUAY.io") == Target{"10.0.0.5", std::nullopt});
  CHECK(overrides.lookup("quay.io.") == Target{"10.0.0.5", std::nullopt});
  CHECK(overrides.lookup("A.EXAMPLE.com") == Target{"10.0.0.9", std::nullopt});
}

TEST_CASE("wildcards match below the suffix, not the suffix itself") {
  const ResolveOverrides overrides("*.example.com=10.0.0.9");
  CHECK(overrides.lookup("a.example.com"));
  CHECK(overrides.lookup("a.b.example.com"));
  CHECK_FALSE(overrides.lookup("example.com"));
  CHECK_FALSE(overrides.lookup("badexample.com"));
}

TEST_CASE("exact entries win over wildcards; the longest wildcard wins") {
  const ResolveOverrides overrides("*.com=10.0.0.1 *.example.com=10.0.0.2 api.example.com=10.0.0.3 "
                                   "*.eu.example.com=10.0.0.4");
  CHECK(overrides.lookup("api.example.com")->address == "10.0.0.3");
  CHECK(overrides.lookup("x.eu.example.com")->address == "10.0.0.4");
  CHECK(overrides.lookup("www.example.com")->address == "10.0.0.2");
  CHECK(overrides.lookup("other.com")->address == "10.0.0.1");
  CHECK_FALSE(overrides.lookup("other.org"));
}

TEST_CASE("entries are listed for the startup log") {
  const ResolveOverrides overrides("Quay.io=10.0.0.5 *.x.io=[fd00::1]:8443");
  CHECK(overrides.entries() == std::vector<std::string>{"quay.io=10.0.0.5", "*.x.io=[fd00::1]:8443"});
}

TEST_CASE("bad UPSTREAM_RESOLVE entries are rejected, naming the entry") {
  CHECK_THROWS_AS(ResolveOverrides("quay.io"), std::invalid_argument);
  CHECK_THROWS_WITH(ResolveOverrides("ok=1.2.3.4 quay.io"), Catch::Contains("'quay.io'") && Catch::Contains("name=address"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io=registry.local"),
                    Catch::Contains("'quay.io=registry.local'") && Catch::Contains("literal"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io="), Catch::Contains("invalid address"));
  CHECK_THROWS_WITH(ResolveOverrides("=1.2.3.4"), Catch::Contains("invalid name"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io:443=1.2.3.4"), Catch::Contains("no port"));
  CHECK_THROWS_WITH(ResolveOverrides("*=1.2.3.4"), Catch::Contains("'*=1.2.3.4'"));
  CHECK_THROWS_WITH(ResolveOverrides("a.*.com=1.2.3.4"), Catch::Contains("invalid name"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io=1.2.3.4:0"), Catch::Contains("65535"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io=1.2.3.999"), Catch::Contains("invalid address"));
  CHECK_THROWS_WITH(ResolveOverrides("quay.io=1.2.3.4 QUAY.IO=1.2.3.5"), Catch::Contains("twice"));
  CHECK_THROWS_WITH(ResolveOverrides("*.a.io=1.2.3.4 *.A.io=1.2.3.5"), Catch::Contains("twice"));
  CHECK_THROWS_WITH(ResolveOverrides("a=1.2.3.4=5"), Catch::Contains("invalid address"));
  CHECK_NOTHROW(ResolveOverrides("a.io=1.2.3.4 *.a.io=1.2.3.5"));
}
