#include "proxy/http/forwarding.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using namespace pt::http;

namespace {

http::RequestHead client_get() {
  http::RequestHead r;
  r.method = "GET";
  r.target = "/v2/library/alpine/manifests/3.19";
  r.headers.add("Host", "registry.test");
  r.headers.add("Connection", "keep-alive, X-Private");
  r.headers.add("X-Private", "hop");
  r.headers.add("Proxy-Authorization", "Basic c2VjcmV0");
  r.headers.add("Accept", "application/vnd.oci.image.index.v1+json");
  r.headers.add("Expect", "100-continue");
  return r;
}

}  // namespace

TEST_CASE("upstream requests drop hop-by-hop fields and those named in Connection") {
  const auto up = upstream_request(client_get(), std::nullopt);
  CHECK(up.target == "/v2/library/alpine/manifests/3.19");
  CHECK(up.headers.get("Host") == "registry.test");
  CHECK(up.headers.get("Accept") == "application/vnd.oci.image.index.v1+json");
  CHECK_FALSE(up.headers.contains("Connection"));
  CHECK_FALSE(up.headers.contains("X-Private"));
  CHECK_FALSE(up.headers.contains("Proxy-Authorization"));
  CHECK_FALSE(up.headers.contains("Expect"));
  CHECK_FALSE(up.headers.contains("Authorization"));
}

TEST_CASE("injected credentials replace nothing but are set when given") {
  const auto up = upstream_request(client_get(), std::string("Basic dXNlcjpwYXNz"));
  CHECK(up.headers.get("Authorization") == "Basic dXNlcjpwYXNz");
}

TEST_CASE("request bodies are re-framed explicitly") {
  auto r = client_get();
  r.method = "PUT";
  r.framing = http::BodyFraming::chunked;
  r.headers.add("Transfer-Encoding", "chunked");
  auto up = upstream_request(r, std::nullopt);
  CHECK(up.headers.get("Transfer-Encoding") == "chunked");
  CHECK_FALSE(up.headers.contains("Content-Length"));

  r.framing = http::BodyFraming::content_length;
  r.content_length = 12;
  up = upstream_request(r, std::nullopt);
  CHECK(up.headers.get("Content-Length") == "12");
  CHECK_FALSE(up.headers.contains("Transfer-Encoding"));
}

TEST_CASE("a close-delimited upstream body reaches the client chunked, on a kept-alive connection") {
  http::ResponseHead upstream;
  upstream.status = 200;
  upstream.framing = http::BodyFraming::until_close;
  upstream.keep_alive = false;
  upstream.headers.add("Connection", "close");
  const auto out = client_response(upstream, "GET", "MISS", true);
  CHECK(out.chunked);
  CHECK(out.head.headers.get("Transfer-Encoding") == "chunked");
  CHECK_FALSE(out.head.headers.contains("Connection"));
  CHECK(out.head.headers.get("X-Cache") == "MISS");
}

TEST_CASE("a HEAD response keeps the length a GET would have") {
  http::ResponseHead upstream;
  upstream.status = 200;
  upstream.framing = http::BodyFraming::none;
  upstream.headers.add("Content-Length", "1234");
  upstream.headers.add("Docker-Content-Digest", "sha256:abc");
  const auto out = client_response(upstream, "HEAD", "BYPASS", true);
  CHECK_FALSE(out.chunked);
  CHECK(out.head.headers.get("Content-Length") == "1234");
  CHECK(out.head.headers.get("Docker-Content-Digest") == "sha256:abc");
}

TEST_CASE("closing the client connection is announced") {
  http::ResponseHead upstream;
  upstream.framing = http::BodyFraming::content_length;
  upstream.content_length = 3;
  const auto out = client_response(upstream, "GET", "", false);
  CHECK(out.head.headers.get("Connection") == "close");
  CHECK(out.head.headers.get("Content-Length") == "3");
  CHECK_FALSE(out.head.headers.contains("X-Cache"));
}

TEST_CASE("targets become origin-form") {
  CHECK(origin_form("/v2/") == "/v2/");
  CHECK(origin_form("https://registry.test/v2/x?n=1") == "/v2/x?n=1");
  CHECK(origin_form("https://registry.test") == "/");
  CHECK(origin_form("garbage") == "/");
}

TEST_CASE("only safe methods are retried on a fresh connection") {
  CHECK(is_idempotent("GET"));
  CHECK(is_idempotent("HEAD"));
  CHECK_FALSE(is_idempotent("POST"));
  CHECK_FALSE(is_idempotent("PATCH"));
}

TEST_CASE("redirect locations resolve against the registry") {
  const Origin registry{"registry.test", 5000};
  auto t = redirect_target("https://cdn.test/storage/blob?X-Signature=abc#frag", registry);
  REQUIRE(t);
  CHECK(t->origin.host == "cdn.test");
  CHECK(t->origin.port == 443);
  CHECK(t->target == "/storage/blob?X-Signature=abc");
  CHECK(t->origin.authority() == "cdn.test");

  t = redirect_target("HTTPS://Bucket.S3.Example:8443?sig=1", registry);
  REQUIRE(t);
  CHECK(t->origin.host == "bucket.s3.example");
  CHECK(t->origin.port == 8443);
  CHECK(t->target == "/?sig=1");

  // Relative, as Google Artifact Registry sends.
  t = redirect_target("/artifacts-downloads/namespaces/x?token=y", registry);
  REQUIRE(t);
  CHECK(t->origin.host == "registry.test");
  CHECK(t->origin.port == 5000);
  CHECK(t->target == "/artifacts-downloads/namespaces/x?token=y");
}

TEST_CASE("only https redirects are followed") {
  const Origin registry{"registry.test", 443};
  CHECK_FALSE(redirect_target("http://cdn.test/blob", registry));
  CHECK_FALSE(redirect_target("//cdn.test/blob", registry));
  CHECK_FALSE(redirect_target("ftp://cdn.test/blob", registry));
  CHECK_FALSE(redirect_target("https://bad host/blob", registry));
  CHECK(is_redirect(307));
  CHECK(is_redirect(302));
  CHECK_FALSE(is_redirect(304));
}
