#include "proxy/front/connection_limits.hpp"

#include <catch2/catch.hpp>

#include <vector>

using pt::front::ConnectionLimits;
using Verdict = ConnectionLimits::Verdict;

namespace {
asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }
ConnectionLimits make(std::size_t total, std::size_t per_client) {
  return ConnectionLimits(*pt::auth::CidrList::parse("127.0.0.0/8 10.0.0.0/8").value, total, per_client);
}
}  // namespace

TEST_CASE("Clients outside ALLOWED_CLIENTS are refused with 403", "[limits]") {
  auto limits = make(10, 10);
  auto admission = limits.admit(ip("8.8.8.8"));
  CHECK(admission.verdict == Verdict::client_not_allowed);
  CHECK(ConnectionLimits::status_for(admission.verdict) == 403);
  CHECK(limits.active() == 0);
  CHECK(limits.admit(ip("::ffff:10.1.1.1")).verdict == Verdict::admitted);
}

TEST_CASE("Per-client and total limits, released with the ticket", "[limits]") {
  auto limits = make(3, 2);
  std::vector<ConnectionLimits::Ticket> held;
  held.push_back(limits.admit(ip("10.0.0.1")).ticket);
  held.push_back(limits.admit(ip("10.0.0.1")).ticket);
  const auto third = limits.admit(ip("10.0.0.1"));
  CHECK(third.verdict == Verdict::too_many_from_client);
  CHECK(ConnectionLimits::status_for(third.verdict) == 429);
  held.push_back(limits.admit(ip("10.0.0.2")).ticket);
  CHECK(limits.active() == 3);
  const auto full = limits.admit(ip("10.0.0.3"));
  CHECK(full.verdict == Verdict::too_many_connections);
  CHECK(ConnectionLimits::status_for(full.verdict) == 503);
  held.erase(held.begin());
  CHECK(limits.active() == 2);
  CHECK(limits.admit(ip("10.0.0.1")).verdict == Verdict::admitted);  // released at once again
  held.clear();
  CHECK(limits.active() == 0);
}

TEST_CASE("A moved ticket releases once", "[limits]") {
  auto limits = make(5, 5);
  {
    auto admission = limits.admit(ip("127.0.0.1"));
    ConnectionLimits::Ticket moved = std::move(admission.ticket);
    ConnectionLimits::Ticket again;
    again = std::move(moved);
    CHECK(limits.active() == 1);
  }
  CHECK(limits.active() == 0);
}

TEST_CASE("Replacing ALLOWED_CLIENTS keeps the connections admitted and their counts", "[limits]") {
  auto limits = make(10, 1);
  auto held = limits.admit(ip("10.0.0.1"));
  REQUIRE(held.verdict == Verdict::admitted);
  CHECK(limits.admit(ip("192.168.1.1")).verdict == Verdict::client_not_allowed);

  limits.replace_allowed(*pt::auth::CidrList::parse("192.168.0.0/16 10.0.0.1").value);
  CHECK(limits.allowed_entries() == std::vector<std::string>{"192.168.0.0/16", "10.0.0.1/32"});
  CHECK(limits.admit(ip("192.168.1.1")).verdict == Verdict::admitted);
  CHECK(limits.admit(ip("10.0.0.2")).verdict == Verdict::client_not_allowed);
  // The place 10.0.0.1 held before the swap still counts: MAX_CONNECTIONS_PER_CLIENT=1 is reached.
  CHECK(limits.admit(ip("10.0.0.1")).verdict == Verdict::too_many_from_client);
  CHECK(limits.active() == 1);

  limits.replace_allowed(*pt::auth::CidrList::parse("192.168.0.0/16").value);
  CHECK(limits.active() == 1);  // dropped from the list, but its connection goes on
  held = {};
  CHECK(limits.active() == 0);
  CHECK(limits.admit(ip("10.0.0.1")).verdict == Verdict::client_not_allowed);
}
