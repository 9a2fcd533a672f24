#include "proxy/registry/object_store.hpp"
#include "proxy/registry/peer_pool.hpp"

#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"
#include "s3/hashing.hpp"

#include <catch2/catch.hpp>

using namespace pt::registry;
using namespace std::chrono_literals;

namespace {
const auto digest = *pt::cache::Digest::parse("sha256:" + std::string(64, 'b'));
}  // namespace

TEST_CASE("bucket keys: content by digest alone, tag records by the hash of their key") {
  CHECK(object_key(digest) == "blobs/sha256/" + std::string(64, 'b'));
  const std::string tag_key = "tag/registry.test:5000/library/app:1.0";
  CHECK(tag_object_key(tag_key) == "tags/" + pt::s3::sha256_hex(tag_key));
  CHECK(tag_object_key(tag_key) != tag_object_key("tag/registry.test:5000/library/app:1.1"));
}

TEST_CASE("bucket health: every failure counted, a corrupt object skipped for an hour") {
  ObjectStoreHealth health;
  const auto t0 = ObjectStoreHealth::clock::now();
  health.failed("first", t0);
  health.failed("second, not logged", t0 + 1s);
  health.failed("a minute on, logged again", t0 + 61s);
  CHECK(health.errors() == 3);

  CHECK_FALSE(health.known_corrupt(digest, t0));
  health.served_corrupt(digest, t0);
  CHECK(health.errors() == 4);
  CHECK(health.known_corrupt(digest, t0 + 59min));
  CHECK_FALSE(health.known_corrupt(digest, t0 + 61min));
}

TEST_CASE("bucket health: uploads mark the bucket grown once per batch") {
  ObjectStoreHealth health;
  CHECK_FALSE(health.take_grown());
  health.uploaded(100);
  health.uploaded(50);
  CHECK(health.uploads() == 2);
  CHECK(health.uploaded_bytes() == 150);
  CHECK(health.take_grown());
  CHECK_FALSE(health.take_grown());
}

TEST_CASE("peer pool: nothing to take until a connection is put back, and closed ones are not kept") {
  PeerPool pool;
  int thread_a = 0;
  CHECK(pool.take(&thread_a, "10.0.0.2:3129") == nullptr);
  pool.put(&thread_a, "10.0.0.2:3129", nullptr);  // nothing to keep
  pt::net::UpstreamTls tls(true, "");
  const pt::net::ResolveOverrides resolve;
  pool.put(&thread_a, "10.0.0.2:3129", std::make_unique<pt::net::UpstreamConnection>(tls, resolve));  // never opened
  CHECK(pool.take(&thread_a, "10.0.0.2:3129") == nullptr);
  pool.clear();
}
