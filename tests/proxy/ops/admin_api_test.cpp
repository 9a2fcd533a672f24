#include "proxy/ops/admin_api.hpp"

#include <catch2/catch.hpp>

using pt::ops::AdminAccess;
using pt::ops::admin_access;

namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

}  // namespace

TEST_CASE("the admin API is open to loopback clients, token or not") {
  for (const char* client : {"127.0.0.1", "127.0.0.42", "::1", "::ffff:127.0.0.1"}) {
    INFO(client);
    CHECK(admin_access(ip(client), "", "") == AdminAccess::allowed);
    CHECK(admin_access(ip(client), "", "s3cret") == AdminAccess::allowed);
    CHECK(admin_access(ip(client), "Bearer wrong", "s3cret") == AdminAccess::allowed);
  }
}

TEST_CASE("other clients need the admin token") {
  for (const char* client : {"10.1.2.3", "192.168.1.10", "::ffff:10.0.0.1", "fd00::1", "0.0.0.0"}) {
    INFO(client);
    SECTION("without ADMIN_TOKEN: forbidden whatever they send") {
      CHECK(admin_access(ip(client), "", "") == AdminAccess::forbidden);
      CHECK(admin_access(ip(client), "Bearer ", "") == AdminAccess::forbidden);
      CHECK(admin_access(ip(client), "Bearer anything", "") == AdminAccess::forbidden);
    }
    SECTION("with ADMIN_TOKEN") {
      CHECK(admin_access(ip(client), "Bearer s3cret", "s3cret") == AdminAccess::allowed);
      CHECK(admin_access(ip(client), "bearer  s3cret ", "s3cret") == AdminAccess::allowed);
      CHECK(admin_access(ip(client), "", "s3cret") == AdminAccess::unauthorized);
      CHECK(admin_access(ip(client), "Basic czNjcmV0", "s3cret") == AdminAccess::unauthorized);
      CHECK(admin_access(ip(client), "Bearer s3cre", "s3cret") == AdminAccess::forbidden);
      CHECK(admin_access(ip(client), "Bearer s3cretX", "s3cret") == AdminAccess::forbidden);
      CHECK(admin_access(ip(client), "Bearer ", "s3cret") == AdminAccess::forbidden);
    }
  }
}

