#include "proxy/net/dns_resolver.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pt::net::DnsAnswer;
using pt::net::DnsCache;
using pt::net::DnsResolver;
using pt::net::DnsResolverOptions;
using pt::net::DnsServer;
using pt::net::ResolveResult;

namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

DnsAnswer found(std::vector<asio::ip::address> addresses, std::chrono::seconds ttl) {
  return DnsAnswer{.status = DnsAnswer::Status::found, .addresses = std::move(addresses), .ttl = ttl};
}

// Runs resolve() for each host concurrently on one io_context; results in the order given.
std::vector<ResolveResult> resolve_all(const DnsResolver& resolver, std::vector<std::string> hosts) {
  asio::io_context io;
  std::vector<ResolveResult> results(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      results[i] = co_await resolver.resolve(hosts[i]);
    }, [](std::exception_ptr error) { if (error) std::rethrow_exception(error); });
  }
  io.run();
  return results;
}

ResolveResult resolve_one(const DnsResolver& resolver, std::string host) {
  return resolve_all(resolver, {std::move(host)}).front();
}

}  // namespace

TEST_CASE("RESOLVERS text: addresses with optional ports, any separator") {
  CHECK(pt::net::parse_dns_servers("").empty());
  CHECK(pt::net::parse_dns_servers("  ,\n").empty());
  const auto servers = pt::net::parse_dns_servers("10.0.0.53 10.0.0.54:5353,2001:db8::1\n[2001:DB8::2]:5300 [fd00::3]");
  REQUIRE(servers.size() == 5);
  CHECK(servers[0] == DnsServer{ip("10.0.0.53"), 53});
  CHECK(servers[1] == DnsServer{ip("10.0.0.54"), 5353});
  CHECK(servers[2] == DnsServer{ip("2001:db8::1"), 53});
  CHECK(servers[3] == DnsServer{ip("2001:db8::2"), 5300});
  CHECK(servers[4] == DnsServer{ip("fd00::3"), 53});
  CHECK(pt::net::to_string(servers[1]) == "10.0.0.54:5353");
  CHECK(pt::net::to_string(servers[3]) == "[2001:db8::2]:5300");
}

TEST_CASE("RESOLVERS text: bad entries are named in the error") {
  auto message = [](const char* text) {
    try {
      pt::net::parse_dns_servers(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  CHECK_THAT(message("10.0.0.53 dns.google"), Catch::Contains("'dns.google'") && Catch::Contains("IPv4 or IPv6"));
  CHECK_THAT(message("10.0.0.53:0"), Catch::Contains("'10.0.0.53:0'"));
  CHECK_THAT(message("10.0.0.53:65536"), Catch::Contains("'10.0.0.53:65536'"));
  CHECK_THAT(message("10.0.0.53:x"), Catch::Contains("'10.0.0.53:x'"));
  CHECK_THAT(message("10.0.0.300"), Catch::Contains("'10.0.0.300'"));
  CHECK_THAT(message("[fd00::1"), Catch::Contains("'[fd00::1'"));
  CHECK_THAT(message("10.0.0.53 10.0.0.53:53"), Catch::Contains("listed twice"));
  CHECK_THAT(message("10.0.0.53 dns.google"), Catch::StartsWith("RESOLVERS"));
}

TEST_CASE("the resolver refuses an empty or bad server list") {
  CHECK_THROWS_AS(DnsResolver(""), std::invalid_argument);
  CHECK_THROWS_AS(DnsResolver(" , "), std::invalid_argument);
  CHECK_THROWS_AS(DnsResolver("resolver.example"), std::invalid_argument);
  const DnsResolver resolver("127.0.0.53:5353 ::1");
  CHECK(resolver.servers().size() == 2);
}

TEST_CASE("cache lifetime: TTL clamped, negatives briefly, failures never") {
  DnsResolverOptions options;
  options.min_ttl = 5s;
  options.max_ttl = 300s;
  options.negative_ttl = 7s;
  CHECK(pt::net::cache_lifetime(found({ip("10.0.0.1")}, 60s), options) == 60s);
  CHECK(pt::net::cache_lifetime(found({ip("10.0.0.1")}, 0s), options) == 5s);
  CHECK(pt::net::cache_lifetime(found({ip("10.0.0.1")}, 86400s), options) == 300s);
  CHECK(pt::net::cache_lifetime(found({}, 60s), options) == 0s);
  CHECK(pt::net::cache_lifetime(DnsAnswer{.status = DnsAnswer::Status::no_such_name}, options) == 7s);
  CHECK(pt::net::cache_lifetime(DnsAnswer{.status = DnsAnswer::Status::failed}, options) == 0s);
}

TEST_CASE("the cache serves entries until they expire") {
  DnsCache cache(10);
  const auto t0 = DnsCache::Clock::now();
  cache.store("a.test", ResolveResult{{ip("10.0.0.1")}, {}}, t0 + 10s, t0);
  REQUIRE(cache.find("a.test", t0 + 9s));
  CHECK(cache.find("a.test", t0 + 9s)->addresses == std::vector{ip("10.0.0.1")});
  CHECK_FALSE(cache.find("b.test", t0));
  CHECK_FALSE(cache.find("a.test", t0 + 10s));
  CHECK(cache.size() == 0);  // the expired entry is gone

  cache.store("a.test", ResolveResult{{}, "no such name"}, t0 + 1s, t0);
  cache.store("a.test", ResolveResult{{ip("10.0.0.2")}, {}}, t0 + 5s, t0);  // replaces
  CHECK(cache.find("a.test", t0 + 2s)->addresses == std::vector{ip("10.0.0.2")});
  cache.store("late.test", ResolveResult{{ip("10.0.0.3")}, {}}, t0, t0 + 1s);  // already expired
  CHECK_FALSE(cache.find("late.test", t0));
}

TEST_CASE("a full cache drops expired entries first, then those expiring soonest") {
  DnsCache cache(3);
  const auto t0 = DnsCache::Clock::now();
  const ResolveResult r{{ip("10.0.0.1")}, {}};
  cache.store("short.test", r, t0 + 2s, t0);
  cache.store("long.test", r, t0 + 100s, t0);
  cache.store("mid.test", r, t0 + 50s, t0);
  cache.store("new1.test", r, t0 + 60s, t0 + 3s);  // short.test has expired: it goes
  CHECK(cache.size() == 3);
  CHECK(cache.find("long.test", t0 + 3s));
  CHECK(cache.find("mid.test", t0 + 3s));
  cache.store("new2.test", r, t0 + 70s, t0 + 3s);  // nothing expired: mid.test expires first
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find("mid.test", t0 + 3s));
  CHECK(cache.find("long.test", t0 + 3s));
  CHECK(cache.find("new1.test", t0 + 3s));
  CHECK(cache.find("new2.test", t0 + 3s));

  DnsCache none(0);
  none.store("a.test", r, t0 + 10s, t0);
  CHECK_FALSE(none.find("a.test", t0));
}

TEST_CASE("IP literals are returned without a query; bad names are refused") {
  std::atomic<int> queries = 0;
  const DnsResolver resolver([&](const std::string&) { ++queries; return found({ip("10.0.0.1")}, 60s); }, {});
  const auto results = resolve_all(resolver, {"10.1.2.3", "[fd00::7]", "FD00::8", "bad name", "x..y"});
  CHECK(results[0].addresses == std::vector{ip("10.1.2.3")});
  CHECK(results[1].addresses == std::vector{ip("fd00::7")});
  CHECK(results[2].addresses == std::vector{ip("fd00::8")});
  CHECK_FALSE(results[3].ok());
  CHECK_THAT(results[3].error, Catch::Contains("invalid host name"));
  CHECK_FALSE(results[4].ok());
  CHECK(queries == 0);
}

TEST_CASE("answers are cached per normalized name; concurrent lookups share one query") {
  std::atomic<int> queries = 0;
  std::vector<std::string> asked;
  std::mutex asked_mutex;
  const DnsResolver resolver(
      [&](const std::string& name) {
        ++queries;
        {
          std::lock_guard lock(asked_mutex);
          asked.push_back(name);
        }
        std::this_thread::sleep_for(100ms);  // long enough for the other lookups to join
        return found({ip("10.0.0.21"), ip("fd00::21")}, 60s);
      },
      {});
  const auto results =
      resolve_all(resolver, {"registry.test", "REGISTRY.test", "registry.test.", "registry.test", "registry.test"});
  CHECK(queries == 1);
  CHECK(asked == std::vector<std::string>{"registry.test"});
  for (const auto& result : results) CHECK(result.addresses == std::vector{ip("10.0.0.21"), ip("fd00::21")});

  CHECK(resolve_one(resolver, "registry.test").ok());
  CHECK(queries == 1);  // from the cache
  CHECK(resolve_one(resolver, "other.test").ok());
  CHECK(queries == 2);

  const auto endpoints = results[0].endpoints(443);
  REQUIRE(endpoints.size() == 2);
  CHECK(endpoints[0] == asio::ip::tcp::endpoint(ip("10.0.0.21"), 443));
  CHECK(endpoints[1] == asio::ip::tcp::endpoint(ip("fd00::21"), 443));
}

TEST_CASE("no such name is cached briefly, failures are asked again") {
  std::atomic<int> queries = 0;
  DnsResolverOptions options;
  options.negative_ttl = 60s;
  const DnsResolver resolver(
      [&](const std::string& name) {
        ++queries;
        if (name == "missing.test") return DnsAnswer{.status = DnsAnswer::Status::no_such_name, .error = "NXDOMAIN"};
        if (name == "broken.test") return DnsAnswer{.status = DnsAnswer::Status::failed, .error = "timed out"};
        throw std::runtime_error("query exploded");
      },
      options);
  CHECK(resolve_one(resolver, "missing.test").error == "NXDOMAIN");
  CHECK(resolve_one(resolver, "missing.test").error == "NXDOMAIN");
  CHECK(queries == 1);
  CHECK(resolve_one(resolver, "broken.test").error == "timed out");
  CHECK(resolve_one(resolver, "broken.test").error == "timed out");
  CHECK(queries == 3);
  const auto thrown = resolve_one(resolver, "throws.test");  // a throwing query is a failure, not a crash
  CHECK_FALSE(thrown.ok());
  CHECK_THAT(thrown.error, Catch::Contains("query exploded"));
}

TEST_CASE("a DNS server that never answers times out within the total timeout") {
  asio::io_context io;
  asio::ip::udp::socket silent(io, asio::ip::udp::endpoint(ip("127.0.0.1"), 0));  // bound, never read
  DnsResolverOptions options;
  options.try_timeout = 100ms;
  options.tries = 50;  // would take far longer than the cap
  options.total_timeout = 400ms;
  const std::vector<DnsServer> servers{{ip("127.0.0.1"), silent.local_endpoint().port()}};
  const auto start = std::chrono::steady_clock::now();
  const auto answer = pt::net::query_dns(servers, "registry.test", options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(answer.status == DnsAnswer::Status::failed);
  CHECK_THAT(answer.error, Catch::Contains("no answer") && Catch::Contains(pt::net::to_string(servers[0])));
  CHECK(elapsed >= 350ms);
  CHECK(elapsed < 2s);
}
