#include "proxy/net/egress.hpp"

#include <catch2/catch.hpp>

using namespace pt::net;

TEST_CASE("parse_upstream_proxy: host, port, credentials") {
  auto plain = parse_upstream_proxy("http://proxy.corp:3128");
  REQUIRE(plain);
  CHECK(plain->host == "proxy.corp");
  CHECK(plain->port == 3128);
  CHECK_FALSE(plain->username);
  CHECK_FALSE(plain->proxy_authorization());
  CHECK(plain->display() == "http://proxy.corp:3128");

  auto with = parse_upstream_proxy(" HTTP://alice:s3cret@Proxy.Corp.:8080/ ");
  REQUIRE(with);
  CHECK(with->host == "proxy.corp");
  CHECK(with->port == 8080);
  CHECK(with->username == "alice");
  CHECK(with->password == "s3cret");
  CHECK(with->proxy_authorization() == "Basic YWxpY2U6czNjcmV0");  // alice:s3cret
  CHECK(with->display() == "http://alice:***@proxy.corp:8080");

  // Percent-escapes in the userinfo, an unescaped '@' in the password, a ':' in it.
  auto escaped = parse_upstream_proxy("http://dom%5Cuser:p%40ss:w@rd@10.0.0.1:3128");
  REQUIRE(escaped);
  CHECK(escaped->username == "dom\\user");
  CHECK(escaped->password == "p@ss:w@rd");
  CHECK(escaped->host == "10.0.0.1");
  CHECK(escaped->display() == "http://dom%5Cuser:***@10.0.0.1:3128");

  // No scheme (as curl allows), an IPv6 proxy, a user without a password.
  auto bare = parse_upstream_proxy("[fd00::1]:3128");
  REQUIRE(bare);
  CHECK(bare->host == "fd00::1");
  CHECK(bare->display() == "http://[fd00::1]:3128");
  auto user_only = parse_upstream_proxy("http://bob@proxy:3128");
  REQUIRE(user_only);
  CHECK(user_only->username == "bob");
  CHECK(user_only->password.empty());
  CHECK(user_only->proxy_authorization() == "Basic Ym9iOg==");  // bob:
}

TEST_CASE("parse_upstream_proxy: refusals name the problem and never the password") {
  const std::pair<const char*, const char*> bad[] = {
      {"", "empty"},
      {"https://alice:hunter2@proxy:3128", "https://"},
      {"socks5://alice:hunter2@proxy:1080", "http://"},
      {"http://alice:hunter2@proxy", "port"},
      {"http://alice:hunter2@proxy:0", "65535"},
      {"http://alice:hunter2@proxy:3128/path", "no path"},
      {"http://alice:hunter2@proxy:3128?x", "no path"},
      {"http://alice:hunt%zzer2@proxy:3128", "%-escape"},
      {"http://:hunter2@proxy:3128", "user"},
      {"http://alice:hunter2@:3128", "host"},
  };
  for (const auto& [url, why] : bad) {
    INFO(url);
    const auto parsed = parse_upstream_proxy(url);
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error, Catch::Contains(why));
    CHECK_THAT(parsed.error, !Catch::Contains("hunter2") && !Catch::Contains("hunt%zzer2"));
  }
  CHECK_THAT(parse_upstream_proxy("http://alice:hunter2@proxy").error, Catch::Contains("alice:***@proxy"));
}

TEST_CASE("mask_url_password") {
  CHECK(mask_url_password("http://alice:s3cret@proxy:3128") == "http://alice:***@proxy:3128");
  CHECK(mask_url_password("http://proxy:3128") == "http://proxy:3128");
  CHECK(mask_url_password("http://bob@proxy:3128") == "http://bob@proxy:3128");
  CHECK(mask_url_password("x http://a:p@ss@h:1/path and https://c:d@e/ end") == "x http://a:***@h:1/path and https://c:***@e/ end");
  CHECK(mask_url_password("no url here: a:b@c") == "no url here: a:b@c");
  CHECK(mask_url_password("http://") == "http://");
}

TEST_CASE("NoProxyList: names, suffixes, CIDRs") {
  auto list = NoProxyList::parse("registry.internal, *.corp.example .svc.cluster.local\n10.0.0.0/8 192.168.1.7 "
                                 "fd00::/8 [::1] Localhost");
  REQUIRE(list);
  CHECK(list->entries() == std::vector<std::string>{"registry.internal", "*.corp.example", "*.svc.cluster.local",
                                                    "10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128",
                                                    "localhost"});
  // Names: exact, case-insensitive, trailing dot ignored.
  CHECK(list->matches("registry.internal"));
  CHECK(list->matches("Registry.Internal."));
  CHECK(list->matches("localhost"));
  CHECK_FALSE(list->matches("x.registry.internal"));
  CHECK_FALSE(list->matches("registry.internal.evil.com"));
  // Suffixes: subdomains, not the suffix itself, not a name merely ending in its letters.
  CHECK(list->matches("git.corp.example"));
  CHECK(list->matches("a.b.corp.example"));
  CHECK_FALSE(list->matches("corp.example"));
  CHECK_FALSE(list->matches("evilcorp.example"));
  CHECK(list->matches("db.ns.svc.cluster.local"));
  // CIDRs: v4 and v6 addresses, v4-mapped v6 too; never a name.
  CHECK(list->matches("10.1.2.3"));
  CHECK(list->matches("192.168.1.7"));
  CHECK_FALSE(list->matches("192.168.1.8"));
  CHECK(list->matches("fd12:3456::1"));
  CHECK(list->matches("[fd12:3456::1]"));
  CHECK(list->matches("::1"));
  CHECK(list->matches("::ffff:10.9.9.9"));
  CHECK_FALSE(list->matches("fe80::1"));
  CHECK_FALSE(list->matches("11.0.0.1"));
  CHECK_FALSE(list->matches("quay.io"));

  CHECK(NoProxyList::parse("")->empty());
  CHECK_FALSE(NoProxyList::parse("")->matches("anything"));
}

TEST_CASE("NoProxyList: refusals") {
  CHECK_THAT(NoProxyList::parse("ok.io 10.0.0.1/8").error, Catch::Contains("10.0.0.1/8") && Catch::Contains("host bits"));
  CHECK_THAT(NoProxyList::parse("10.0.0.0/33").error, Catch::Contains("0..32"));
  CHECK_THAT(NoProxyList::parse("quay.io:443").error, Catch::Contains("no port"));
  CHECK_THAT(NoProxyList::parse("bad_name!").error, Catch::Contains("bad_name!"));
  CHECK_FALSE(NoProxyList::parse("*"));
  CHECK_FALSE(NoProxyList::parse("a.*.com"));
}

TEST_CASE("Egress: proxy or direct") {
  CHECK(Egress().proxy_for("quay.io") == nullptr);  // no corporate proxy

  auto proxy = parse_upstream_proxy("http://u:p@proxy:3128");
  auto direct = NoProxyList::parse("*.internal 10.0.0.0/8");
  const Egress egress(*proxy, *direct);
  const auto* via = egress.proxy_for("quay.io");
  REQUIRE(via != nullptr);
  CHECK(via->host == "proxy");
  CHECK(egress.proxy_for("registry.internal") == nullptr);
  CHECK(egress.proxy_for("10.2.3.4") == nullptr);
  // An UPSTREAM_RESOLVE address in UPSTREAM_NO_PROXY makes its name direct too.
  CHECK(egress.proxy_for("mirror.example", "10.0.0.5") == nullptr);
  CHECK(egress.proxy_for("mirror.example", "172.16.0.5") != nullptr);
}

TEST_CASE("connect_request") {
  auto with = parse_upstream_proxy("http://alice:s3cret@proxy:3128");
  CHECK(connect_request(*with, "registry.test", 443) ==
        "CONNECT registry.test:443 HTTP/1.1\r\nHost: registry.test:443\r\n"
        "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\nUser-Agent: pullthrough\r\n\r\n");
  auto without = parse_upstream_proxy("http://proxy:3128");
  CHECK(connect_request(*without, "fd00::5", 5000) ==
        "CONNECT [fd00::5]:5000 HTTP/1.1\r\nHost: [fd00::5]:5000\r\nUser-Agent: pullthrough\r\n\r\n");
}

TEST_CASE("connect_head_length") {
  CHECK(connect_head_length("") == 0);
  CHECK(connect_head_length("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(connect_head_length("HTTP/1.1 200 OK\r\n\r") == 0);
  CHECK(connect_head_length("HTTP/1.1 200 OK\r\n\r\n") == 19);
  CHECK(connect_head_length("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01") == 19);  // the tunnel's bytes are not the head's
  CHECK(connect_head_length("HTTP/1.0 200 OK\nVia: x\n\nrest") == 24);
  CHECK(connect_head_length("HTTP/1.1 407 No\r\nProxy-Authenticate: Basic\r\n\r\nbody") == 46);
}

TEST_CASE("parse_connect_reply and connect_refusal") {
  auto ok = parse_connect_reply("HTTP/1.1 200 Connection established\r\n\r\n");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->reason == "Connection established");
  auto bare = parse_connect_reply("HTTP/1.0 200\r\n\r\n");
  REQUIRE(bare);
  CHECK(bare->status == 200);
  CHECK(bare->reason.empty());

  CHECK_FALSE(parse_connect_reply("SSH-2.0-OpenSSH\r\n\r\n"));
  CHECK_FALSE(parse_connect_reply("HTTP/1.1 2x0 OK\r\n\r\n"));
  CHECK_FALSE(parse_connect_reply("HTTP/1.1 200OK\r\n\r\n"));
  CHECK_FALSE(parse_connect_reply("HTTP/2 200\r\n\r\n"));

  auto proxy = parse_upstream_proxy("http://alice:hunter2@proxy.corp:3128");
  CHECK_FALSE(connect_refusal(*ok, *proxy, "registry.test:443"));
  CHECK_FALSE(connect_refusal({204, ""}, *proxy, "registry.test:443"));

  const auto denied = connect_refusal({407, "Proxy Authentication Required"}, *proxy, "registry.test:443");
  REQUIRE(denied);
  CHECK(*denied ==
        "corporate proxy http://alice:***@proxy.corp:3128 (UPSTREAM_PROXY) refused CONNECT registry.test:443: "
        "407 Proxy Authentication Required: it refused the user and password of UPSTREAM_PROXY");
  auto anonymous = parse_upstream_proxy("http://proxy.corp:3128");
  CHECK_THAT(*connect_refusal({407, "Proxy Authentication Required"}, *anonymous, "r:443"),
             Catch::Contains("it wants credentials"));
  CHECK_THAT(*connect_refusal({403, "Forbidden"}, *proxy, "r:443"), Catch::Contains("403 Forbidden: its policy"));
  CHECK_THAT(*connect_refusal({503, "Service Unavailable"}, *proxy, "r:443"),
             Catch::Contains("could not reach the registry"));
  CHECK_THAT(*connect_refusal({301, ""}, *proxy, "r:443"), Catch::EndsWith("refused CONNECT r:443: 301"));
  for (int status : {301, 403, 407, 500, 502}) {
    CHECK_THAT(*connect_refusal({status, "x"}, *proxy, "r:443"), !Catch::Contains("hunter2"));
  }
}
