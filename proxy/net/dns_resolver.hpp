#pragma once
// Resolves upstream names through the DNS servers of RESOLVERS instead of the system resolver.
//
// In DNS-hijack set-ups the system resolver points the registries' names at the proxy itself, so
// the real addresses must come from other servers. Queries go to those servers only (no
// /etc/hosts, no search domains), A and AAAA together, with a bounded total time. Answers are
// cached per name for their TTL (clamped), "no such name" briefly; concurrent lookups of one name
// share one query. The query itself runs c-ares with its own poll loop on the resolver's own
// threads: a dead DNS server then holds up lookups, never the shared blocking pool (key
// generation, cache writes).
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pt {
template <class T>
class AsyncOnce;
}  // namespace pt

namespace pt::net {

struct DnsServer {
  asio::ip::address address;
  std::uint16_t port = 53;

  bool operator==(const DnsServer&) const = default;
};

// RESOLVERS: "ip[:port] ...", separated by spaces, commas or newlines. IPv6 with a port is
// bracketed ("[2001:db8::1]:53"); a bare IPv6 address takes no port. Throws std::invalid_argument
// naming the bad entry. Empty text gives an empty list.
std::vector<DnsServer> parse_dns_servers(std::string_view text);

// "ip:port" / "[v6]:port", for logs.
std::string to_string(const DnsServer& server);

// The outcome of one lookup, as callers see it.
struct ResolveResult {
  std::vector<asio::ip::address> addresses;  // in the order to try; empty on failure
  std::string error;                         // why there are none ("no such name", "timed out ...")

  bool ok() const { return !addresses.empty(); }
  std::vector<asio::ip::tcp::endpoint> endpoints(std::uint16_t port) const;
};

// What a DNS query found, before caching.
struct DnsAnswer {
  enum class Status { found, no_such_name, failed };
  Status status = Status::failed;
  std::vector<asio::ip::address> addresses;
  std::chrono::seconds ttl{0};  // the smallest TTL of the records (found only)
  std::string error;            // for no_such_name and failed
};

struct DnsResolverOptions {
  std::chrono::milliseconds try_timeout{1000};    // one query to one server (c-ares doubles it per round)
  int tries = 2;                                  // rounds over all servers
  std::chrono::milliseconds total_timeout{4000};  // hard cap on one lookup, whatever the rounds
  std::chrono::seconds min_ttl{5};                // answers are kept at least this long...
  std::chrono::seconds max_ttl{300};              // ...and at most this long
  std::chrono::seconds negative_ttl{5};           // "no such name" is kept this long; failures are not kept
  std::size_t max_entries = 1024;
  std::size_t threads = 2;  // queries of different names at once; more wait their turn
};

// How long an answer may be served from the cache: zero means not at all.
std::chrono::seconds cache_lifetime(const DnsAnswer& answer, const DnsResolverOptions& options);

// A bounded map of name -> result with expiry times. Not thread-safe; the time is passed in, so it
// is testable without waiting. When full, expired entries go first, then those expiring soonest.
class DnsCache {
public:
  using Clock = std::chrono::steady_clock;

  explicit DnsCache(std::size_t max_entries) : max_entries_(max_entries) {}

  const ResolveResult* find(const std::string& name, Clock::time_point now);
  void store(const std::string& name, ResolveResult result, Clock::time_point expires, Clock::time_point now);
  std::size_t size() const { return entries_.size(); }

private:
  struct Entry {
    ResolveResult result;
    Clock::time_point expires;
  };
  void make_room(Clock::time_point now);

  std::size_t max_entries_;
  std::unordered_map<std::string, Entry> entries_;
};

// Thread-safe: one instance serves every connection.
class DnsResolver {
public:
  // Runs one blocking DNS query for a normalized name.
  using Query = std::function<DnsAnswer(const std::string& name)>;

  // `servers` is the RESOLVERS text; throws std::invalid_argument for a bad or empty list.
  explicit DnsResolver(std::string_view servers, DnsResolverOptions options = {});
  // Any query function (tests).
  DnsResolver(Query query, DnsResolverOptions options);
  ~DnsResolver();

  // The addresses of `host` (a name, or an IP literal returned as is without a query). The caller
  // resumes on its own executor. Never throws for DNS failures.
  asio::awaitable<ResolveResult> resolve(std::string host) const;
  const std::vector<DnsServer>& servers() const { return servers_; }

private:
  using Pending = AsyncOnce<ResolveResult>;

  std::vector<DnsServer> servers_;
  DnsResolverOptions options_;
  Query query_;
  // Lookups change only the cache, not what the resolver answers: hence const resolve().
  mutable std::mutex mutex_;
  mutable DnsCache cache_;
  mutable std::map<std::string, std::shared_ptr<Pending>> pending_;  // single-flight per name
  // Last: destroyed (joined) first, while what a running query uses is still there.
  mutable asio::thread_pool queries_;
};

// One blocking c-ares lookup (A and AAAA) against `servers`, in order; what DnsResolver runs.
DnsAnswer query_dns(const std::vector<DnsServer>& servers, const std::string& name,
                    const DnsResolverOptions& options);

}  // namespace pt::net
