// pt::registry::Session against a fake upstream registry and a real cache, through its narrow seam
// (pt::registry::Dependencies): what the client gets (status, X-Cache, bytes), what upstream was
// asked, and what the session reported to its observer.
//
// The upstream is a small fake (session_harness.hpp) because a unit test cannot start a real
// registry; the integration tests in tests/integration/ run the same paths against the real
// docker-registry.
#include "session_harness.hpp"

#include "cache/cache_error.hpp"
#include "cache/cache_key.hpp"
#include "cache/manifest_negotiation.hpp"
#include "cache/registry_policy.hpp"
#include "cache/timestamp.hpp"

#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>

using namespace pt::registry;
using namespace pt::registry::test;
using pt::cache::RequestKind;
using pt::cache::test::digest_of;
using pt::cache::test::make_content;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<CacheStatus> cache_statuses(const std::vector<AccessRecord>& records) {
  std::vector<CacheStatus> out;
  for (const auto& record : records) out.push_back(record.cache);
  return out;
}

std::vector<std::string> asked(const FakeUpstream& upstream) {
  std::vector<std::string> out;
  for (const auto& request : upstream.requests()) out.push_back(request.method + " " + request.target);
  return out;
}

// Blob bodies are compared by size and digest: a failure prints two short lines, not the bytes.
std::string fingerprint(std::string_view bytes) {
  return std::to_string(bytes.size()) + " bytes, " + digest_of(bytes).str();
}

// Text bodies compare as text, unless one is long (a blob where an error was expected).
std::string shown(const std::string& body) { return body.size() <= 1024 ? body : fingerprint(body); }

std::string blob_target(const std::string& content) { return "/v2/library/app/blobs/" + digest_of(content).str(); }

// A small image manifest; `config` makes each version's bytes (and digest) its own.
std::string manifest(const std::string& config) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
         R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":")" +
         digest_of(config).str() + R"("},"layers":[]})";
}

// Tags are cached per Accept variant: every client request of a test sends the same one, as Docker does.
const Headers accept_manifests = {{"Accept", std::string(manifest_v2) + ", application/vnd.oci.image.index.v1+json"}};

}  // namespace

TEST_CASE("Session: a blob is fetched once (MISS), then served from the cache: GET, HEAD and Range are HITs") {
  World world;
  const std::string blob = make_content(200 * 1024, 1);
  const std::string digest = digest_of(blob).str();
  const std::string target = blob_target(blob);
  world.upstream.serve(target, blob_reply(blob));

  world.run([&]() -> asio::awaitable<void> {
    // One keep-alive connection: the session serves its requests one after another.
    Client client(world);
    co_await client.connect();

    const auto miss = co_await client.request("GET", target);
    CHECK(miss.status == 200);
    CHECK(miss.x_cache() == "MISS");
    CHECK(miss.header("Docker-Content-Digest") == digest);
    CHECK(miss.complete);
    CHECK(fingerprint(miss.body) == fingerprint(blob));
    CHECK(world.upstream.requests().size() == 1);

    const auto hit = co_await client.request("GET", target);
    CHECK(hit.status == 200);
    CHECK(hit.x_cache() == "HIT");
    CHECK(hit.header("Docker-Content-Digest") == digest);
    CHECK(hit.header("Content-Length") == std::to_string(blob.size()));
    CHECK(fingerprint(hit.body) == fingerprint(blob));

    // A HEAD announces the stored blob without sending it.
    const auto head = co_await client.request("HEAD", target);
    CHECK(head.status == 200);
    CHECK(head.x_cache() == "HIT");
    CHECK(head.header("Docker-Content-Digest") == digest);
    CHECK(head.header("Content-Length") == std::to_string(blob.size()));
    CHECK(head.body.empty());

    // A resumed download asks for a slice: the cache answers it from the stored file.
    const Headers slice = {{"Range", "bytes=1000-1999"}};  // named: GCC 12 rejects a braced list in co_await
    const auto range = co_await client.request("GET", target, slice);
    CHECK(range.status == 206);
    CHECK(range.x_cache() == "HIT");
    CHECK(range.header("Content-Range") == "bytes 1000-1999/" + std::to_string(blob.size()));
    CHECK(fingerprint(range.body) == fingerprint(blob.substr(1000, 1000)));
    co_await world.reports(4);
  });

  // Upstream was asked once, for the MISS; everything after came from the cache.
  CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target});
  const auto records = world.observer.records();
  REQUIRE(records.size() == 4);
  CHECK(cache_statuses(records) ==
        std::vector<CacheStatus>{CacheStatus::miss, CacheStatus::hit, CacheStatus::hit, CacheStatus::hit});
  CHECK(records[0].status == 200);
  CHECK(records[0].bytes == blob.size());
  CHECK(records[1].bytes == blob.size());
  CHECK(records[2].method == "HEAD");
  CHECK(records[2].bytes == 0);
  CHECK(records[3].status == 206);
  CHECK(records[3].bytes == 1000);
  for (const auto& record : records) {
    CHECK(record.path == target);
    CHECK(record.host == world.authority());
    CHECK(record.request.kind == RequestKind::blob);
    CHECK(record.error.empty());
  }
}

TEST_CASE("Session: two clients pulling the same blob at once share one upstream download") {
  World world;
  const std::string blob = make_content(256 * 1024, 2);
  const std::string target = blob_target(blob);
  // Upstream sends its first piece, then holds the rest until the test opens the gate, then sends
  // it in small pieces with pauses: the second client certainly arrives while the fill is running.
  constexpr std::size_t piece = 16 * 1024;
  auto gate = world.upstream.make_gate();
  Reply slow = blob_reply(blob);
  slow.piece = piece;
  slow.pause = 2ms;
  slow.gate = gate;
  slow.gate_after = piece;
  world.upstream.serve(target, slow);

  Response first_response, second_response;
  world.run([&]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    Client first(world), second(world);
    co_await first.connect();
    co_await second.connect();

    co_await first.send("GET", target);
    auto download_started = [&] { return gate->reached(); };
    co_await world.wait_until(download_started, "the upstream download to start");

    // The second client's head comes from the fill's published response, while upstream is still
    // holding back all but the first piece.
    co_await second.send("GET", target);
    second_response = co_await second.read_head("GET");
    first_response = co_await first.read_head("GET");
    CHECK(world.upstream.requests().size() == 1);

    gate->open();
    co_await (first.read_body(first_response) && second.read_body(second_response));
    co_await world.reports(2);
  });

  CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target});
  CHECK(world.upstream.connections_accepted() == 1);
  CHECK(first_response.status == 200);
  CHECK(first_response.x_cache() == "MISS");
  CHECK(first_response.complete);
  CHECK(fingerprint(first_response.body) == fingerprint(blob));
  CHECK(second_response.status == 200);
  CHECK(second_response.x_cache() == "HIT");  // it rode the fill: no upstream request of its own
  CHECK(second_response.header("Docker-Content-Digest") == digest_of(blob).str());
  CHECK(second_response.header("Content-Length") == std::to_string(blob.size()));
  CHECK(second_response.complete);
  CHECK(fingerprint(second_response.body) == fingerprint(blob));

  // The two records come in either order.
  auto records = world.observer.records();
  REQUIRE(records.size() == 2);
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.cache < b.cache; });
  CHECK(cache_statuses(records) == std::vector<CacheStatus>{CacheStatus::hit, CacheStatus::miss});
  for (const auto& record : records) {
    CHECK(record.status == 200);
    CHECK(record.bytes == blob.size());
    CHECK(record.error.empty());
  }
}

TEST_CASE("Session: a stale tag manifest is revalidated with a HEAD upstream, and fetched anew when the tag moved") {
  WorldOptions options;
  options.manifest_cache.enable = "true";
  // A tag is stale as soon as it is stored (freshness is counted in whole seconds), so every later
  // GET revalidates without the test sleeping. "latest" matches neither the primary nor the
  // secondary tier's regex, so the default window applies.
  options.manifest_cache.default_time = "0s";
  World world(options);
  REQUIRE(world.policy().freshness_window("latest") == std::chrono::seconds(0));

  const std::string target = "/v2/library/app/manifests/latest";
  const std::string v1 = manifest("config v1");
  const std::string v2 = manifest("config v2");
  world.upstream.serve(target, manifest_reply(v1));

  world.run([&]() -> asio::awaitable<void> {
    Client client(world);
    co_await client.connect();

    const auto filled = co_await client.request("GET", target, accept_manifests);
    CHECK(filled.status == 200);
    CHECK(filled.x_cache() == "MISS");
    CHECK(filled.header("Docker-Content-Digest") == digest_of(v1).str());
    CHECK(filled.header("Content-Type") == manifest_v2);
    CHECK(shown(filled.body) == v1);

    // Upstream's HEAD names the stored digest: the stored manifest is served.
    const auto revalidated = co_await client.request("GET", target, accept_manifests);
    CHECK(revalidated.status == 200);
    CHECK(revalidated.x_cache() == "REVALIDATED");
    CHECK(revalidated.header("Docker-Content-Digest") == digest_of(v1).str());
    CHECK(revalidated.header("Content-Type") == manifest_v2);
    CHECK(shown(revalidated.body) == v1);

    // The tag was pushed anew: upstream's HEAD names another digest, so the manifest is fetched.
    world.upstream.serve(target, manifest_reply(v2));
    const auto moved = co_await client.request("GET", target, accept_manifests);
    CHECK(moved.status == 200);
    CHECK(moved.x_cache() == "MISS");
    CHECK(moved.header("Docker-Content-Digest") == digest_of(v2).str());
    CHECK(shown(moved.body) == v2);

    // ...and stored in place of the old one.
    const auto again = co_await client.request("GET", target, accept_manifests);
    CHECK(again.x_cache() == "REVALIDATED");
    CHECK(shown(again.body) == v2);
    co_await world.reports(4);
  });

  // Filled, revalidated, revalidated and found moved, filled anew, revalidated.
  CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target, "HEAD " + target, "HEAD " + target,
                                                          "GET " + target, "HEAD " + target});
  for (const auto& request : world.upstream.requests()) {
    // A fetch asks for what the client accepts; a revalidation HEAD for every manifest type, so
    // its answer is the tag's identity whichever client caused it.
    CHECK(request.accept ==
          (request.method == "HEAD" ? pt::cache::revalidation_accept() : accept_manifests.front().second));
  }
  const auto records = world.observer.records();
  REQUIRE(records.size() == 4);
  CHECK(cache_statuses(records) == std::vector<CacheStatus>{CacheStatus::miss, CacheStatus::revalidated,
                                                            CacheStatus::miss, CacheStatus::revalidated});
  for (const auto& record : records) {
    CHECK(record.status == 200);
    CHECK(record.request.kind == RequestKind::manifest_by_tag);
    CHECK(record.error.empty());
  }
  CHECK(records[1].bytes == v1.size());
  CHECK(records[2].bytes == v2.size());
}

TEST_CASE("Session: a stale tag manifest is served (STALE) when upstream fails its revalidation") {
  const std::string failure = GENERATE(as<std::string>{}, "503", "unreachable");
  WorldOptions options;
  options.manifest_cache.enable = "true";
  options.manifest_cache.default_time = "0s";  // stale at once (see the revalidation test)
  World world(options);

  const std::string target = "/v2/library/app/manifests/latest";
  const std::string v1 = manifest("config v1");
  world.upstream.serve(target, manifest_reply(v1));

  world.run([&]() -> asio::awaitable<void> {
    const auto filled = co_await world.fetch("GET", target, accept_manifests);
    CHECK(filled.x_cache() == "MISS");
    CHECK(shown(filled.body) == v1);

    if (failure == "503") {
      world.upstream.respond = [&world](const UpstreamRequest& request) {
        if (request.method != "HEAD") return world.upstream.route(request);
        return Reply{.status = 503, .headers = {{"Content-Type", "text/plain"}}, .body = "maintenance\n"};
      };
    } else {
      world.upstream.stop();  // connections are refused from now on
    }
    const auto stale = co_await world.fetch("GET", target, accept_manifests);
    CHECK(stale.status == 200);
    CHECK(stale.x_cache() == "STALE");
    CHECK(stale.header("Docker-Content-Digest") == digest_of(v1).str());
    CHECK(stale.header("Content-Type") == manifest_v2);
    CHECK(stale.complete);
    CHECK(shown(stale.body) == v1);
  });

  const auto records = world.observer.records();
  REQUIRE(records.size() == 2);
  CHECK(cache_statuses(records) == std::vector<CacheStatus>{CacheStatus::miss, CacheStatus::stale});
  CHECK(records[1].status == 200);
  CHECK(records[1].bytes == v1.size());
  if (failure == "503") {
    CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target, "HEAD " + target});
  } else {
    CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target});
    CHECK_FALSE(records[1].error.empty());  // why upstream could not be asked, for the access log
  }
}

TEST_CASE("Session: a request that joined a tag fill its writer abandoned serves the tag record committed meanwhile") {
  // The race test_cluster met under the sanitizers: a client found no record for the tag and
  // started a fill, another client joined it, then the first found the record another fill had
  // committed meanwhile and abandoned its own. The joined client must serve that record, not ask
  // upstream once more. The test plays both of the other clients with the store's own API.
  World world;
  const std::string target = "/v2/library/app/manifests/1.0";
  const std::string v1 = manifest("config v1");
  const auto accept = accept_manifests.front().second;
  const std::string registry = pt::cache::key_registry(world.authority());
  const std::string tag_key = "tag/" + registry + "/library/app:1.0";

  std::error_code ec;
  auto abandoned = world.store().fills().find_or_start(pt::cache::tag_fill_key(tag_key, accept), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(abandoned.writer);
  const auto holders = abandoned.fill.use_count();

  Response response;
  world.run([&]() -> asio::awaitable<void> {
    Client client(world);
    co_await client.connect();
    co_await client.send("GET", target, accept_manifests);
    auto joined = [&] { return abandoned.fill.use_count() > holders; };
    co_await world.wait_until(joined, "the client's request to join the tag's fill");

    // Another fill of the tag committed: the manifest under its digest, then the tag's record.
    auto other = world.store().fills().find_or_start("another fill of the tag", ec);
    REQUIRE(other.writer);
    other.writer->publish_response({.media_type = std::string(manifest_v2), .content_length = v1.size(),
                                    .expected_digest = digest_of(v1)});
    REQUIRE_FALSE(other.writer->append(std::span<const char>(v1.data(), v1.size())));
    REQUIRE_FALSE(other.writer->finish());
    const auto now = pt::cache::now_timestamp();
    REQUIRE_FALSE(world.store().commit_fill(*other.writer, now, pt::cache::kForever,
                                            pt::cache::manifest_key(registry, "library/app", digest_of(v1))));
    REQUIRE_FALSE(world.store().record_tag_variant(
        tag_key, {.digest = digest_of(v1), .media_type = std::string(manifest_v2), .size = v1.size(), .fetched = now},
        now + std::chrono::minutes(1), false, digest_of(v1)));
    abandoned.writer->fail(pt::cache::CacheErrc::fill_abandoned);

    response = co_await client.read_head("GET");
    co_await client.read_body(response);
    co_await world.reports(1);
  });

  CHECK(world.upstream.requests().empty());
  CHECK(response.status == 200);
  CHECK(response.x_cache() == "HIT");
  CHECK(response.header("Docker-Content-Digest") == digest_of(v1).str());
  CHECK(response.complete);
  CHECK(shown(response.body) == v1);
}

TEST_CASE("Session: CACHE_AUTH_MODE=verify serves a cached blob only to clients the registry accepts") {
  WorldOptions options;
  options.cache_auth = "shared registry.test=verify";
  World world(options);
  const std::string blob = make_content(64 * 1024, 3);
  const std::string target = blob_target(blob);
  world.upstream.serve(target, blob_reply(blob));

  // The registry accepts alice's and bob's tokens for the repository; anyone else gets its challenge.
  const std::string refusal = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
  const std::string challenge = R"(Bearer realm="https://auth.registry.test/token",service="registry.test")";
  world.upstream.respond = [&](const UpstreamRequest& request) {
    if (request.authorization == "Bearer alice" || request.authorization == "Bearer bob") {
      return world.upstream.route(request);
    }
    return Reply{.status = 401,
                 .headers = {{"Content-Type", "application/json"}, {"WWW-Authenticate", challenge}},
                 .body = refusal};
  };

  // Named, not braced inside the co_await expressions: GCC 12 rejects those.
  const Headers as_alice = {{"Authorization", "Bearer alice"}};
  const Headers as_mallory = {{"Authorization", "Bearer mallory"}};
  const Headers as_bob = {{"Authorization", "Bearer bob"}};

  world.run([&]() -> asio::awaitable<void> {
    // alice is checked (HEAD with her token), then the blob is fetched with her token and stored.
    const auto alice = co_await world.fetch("GET", target, as_alice);
    CHECK(alice.status == 200);
    CHECK(alice.x_cache() == "MISS");
    CHECK(fingerprint(alice.body) == fingerprint(blob));

    // mallory's check fails: mallory gets the registry's own 401, not the cached bytes.
    const auto mallory = co_await world.fetch("GET", target, as_mallory);
    CHECK(mallory.status == 401);
    CHECK(mallory.x_cache() == "BYPASS");
    CHECK(mallory.header("WWW-Authenticate") == challenge);
    CHECK(shown(mallory.body) == refusal);

    // No Authorization is a credential too (anonymous), and this registry refuses it.
    const auto anonymous = co_await world.fetch("GET", target);
    CHECK(anonymous.status == 401);
    CHECK(anonymous.x_cache() == "BYPASS");
    CHECK(shown(anonymous.body) == refusal);

    // bob's check passes: the cached blob, no download.
    const auto bob = co_await world.fetch("GET", target, as_bob);
    CHECK(bob.status == 200);
    CHECK(bob.x_cache() == "HIT");
    CHECK(fingerprint(bob.body) == fingerprint(blob));

    // alice's acceptance is remembered: no upstream request at all.
    const auto alice_again = co_await world.fetch("GET", target, as_alice);
    CHECK(alice_again.x_cache() == "HIT");
    CHECK(fingerprint(alice_again.body) == fingerprint(blob));
  });

  CHECK(asked(world.upstream) == std::vector<std::string>{"HEAD " + target, "GET " + target, "HEAD " + target,
                                                          "GET " + target, "HEAD " + target, "GET " + target,
                                                          "HEAD " + target});
  // Each upstream request carried the client's own credentials (verify mode never injects ours).
  std::vector<std::optional<std::string>> authorizations;
  for (const auto& request : world.upstream.requests()) authorizations.push_back(request.authorization);
  using Auth = std::optional<std::string>;
  CHECK(authorizations == std::vector<Auth>{"Bearer alice", "Bearer alice", "Bearer mallory", "Bearer mallory",
                                            std::nullopt, std::nullopt, "Bearer bob"});

  const auto records = world.observer.records();
  REQUIRE(records.size() == 5);
  CHECK(cache_statuses(records) == std::vector<CacheStatus>{CacheStatus::miss, CacheStatus::bypass,
                                                            CacheStatus::bypass, CacheStatus::hit, CacheStatus::hit});
  CHECK(records[1].status == 401);
  CHECK(records[1].bytes == refusal.size());
  CHECK(records[2].status == 401);
  CHECK(records[3].bytes == blob.size());
}

TEST_CASE("Session: upstream down on a cold miss is a 502, and nothing is stored") {
  World world;
  const std::string blob = make_content(1024, 4);
  const std::string target = blob_target(blob);

  world.run([&]() -> asio::awaitable<void> {
    world.upstream.stop();
    const auto down = co_await world.fetch("GET", target);
    CHECK(down.status == 502);
    CHECK(down.body.find("pullthrough:") == 0);
    CHECK(down.body.find(blob) == std::string::npos);
  });

  CHECK(world.upstream.requests().empty());
  const auto records = world.observer.records();
  REQUIRE(records.size() == 1);
  CHECK(records[0].status == 502);
  CHECK(records[0].cache == CacheStatus::miss);
  CHECK_FALSE(records[0].error.empty());
  const auto key = pt::cache::cache_key(pt::cache::classify_request("GET", target),
                                        pt::cache::registry_authority("registry.test", world.upstream.port()));
  REQUIRE(key);
  CHECK_FALSE(world.store().lookup(*key, pt::cache::now_timestamp()).has_value());
}

TEST_CASE("Session: a blob whose bytes do not match its digest is cut off and not cached") {
  World world;
  const std::string blob = make_content(128 * 1024, 5);
  const std::string target = blob_target(blob);
  std::string corrupt = blob;
  corrupt[corrupt.size() / 2] ^= 0x20;  // same length, one bit off: only the digest can tell
  Reply bad = blob_reply(blob);
  bad.body = corrupt;
  bad.piece = 16 * 1024;
  world.upstream.serve(target, bad);

  world.run([&]() -> asio::awaitable<void> {
    // The head went out before the last byte could be checked; the held-back tail never does, so
    // the client sees a truncated transfer, never a complete wrong blob.
    const auto cut = co_await world.fetch("GET", target);
    CHECK(cut.status == 200);
    CHECK(cut.header("Content-Length") == std::to_string(blob.size()));
    CHECK_FALSE(cut.complete);
    CHECK(cut.body.size() < blob.size());
    CHECK(corrupt.compare(0, cut.body.size(), cut.body) == 0);

    // Nothing was stored: the next pull goes upstream again, this time for the right bytes.
    world.upstream.serve(target, blob_reply(blob));
    const auto refetched = co_await world.fetch("GET", target);
    CHECK(refetched.x_cache() == "MISS");
    CHECK(refetched.complete);
    CHECK(fingerprint(refetched.body) == fingerprint(blob));

    const auto hit = co_await world.fetch("GET", target);
    CHECK(hit.x_cache() == "HIT");
    CHECK(fingerprint(hit.body) == fingerprint(blob));
  });

  CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + target, "GET " + target});
  const auto records = world.observer.records();
  REQUIRE(records.size() == 3);
  CHECK(cache_statuses(records) == std::vector<CacheStatus>{CacheStatus::miss, CacheStatus::miss, CacheStatus::hit});
  CHECK(records[0].error.find("not cached") != std::string::npos);
  CHECK(records[1].error.empty());
}

TEST_CASE("Session: REGISTRY_POLICY refuses a denied repository with DENIED, neither fetched nor served from the cache") {
  World world;
  const std::string blob = make_content(4 * 1024, 9);
  world.upstream.serve(blob_target(blob), blob_reply(blob));
  const auto policy = pt::cache::RegistryPolicy::parse(world.authority() + " deny=library/evil*");
  REQUIRE(policy);
  world.deps.registry_policy = &*policy;
  // The blob is cached through an allowed repository: blobs are shared by a registry's
  // repositories, so only the check keeps the denied one from a HIT.
  const std::string denied_target = "/v2/library/evil/blobs/" + digest_of(blob).str();

  world.run([&]() -> asio::awaitable<void> {
    Client client(world);
    co_await client.connect();
    const auto allowed = co_await client.request("GET", blob_target(blob));
    CHECK(allowed.status == 200);
    const auto denied = co_await client.request("GET", denied_target);
    CHECK(denied.status == 403);
    CHECK(denied.body.find(R"({"errors":[{"code":"DENIED","message":")") == 0);
    CHECK(denied.body.find("deny=library/evil*") != std::string::npos);
    const auto tag = co_await client.request("HEAD", "/v2/library/evil-twin/manifests/latest");
    CHECK(tag.status == 403);
    // The connection goes on: a refusal is an answer, not an error.
    const auto again = co_await client.request("GET", blob_target(blob));
    CHECK(again.x_cache() == "HIT");
    co_await world.reports(4);
  });

  CHECK(asked(world.upstream) == std::vector<std::string>{"GET " + blob_target(blob)});
  const auto records = world.observer.records();
  REQUIRE(records.size() == 4);
  CHECK(records[1].status == 403);
  CHECK(records[1].error == "denied by REGISTRY_POLICY: " + world.authority() + " deny=library/evil*");
  CHECK(records[1].cache == CacheStatus::bypass);
}
