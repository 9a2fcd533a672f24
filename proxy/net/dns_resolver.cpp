#include "proxy/net/dns_resolver.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"
#include "common/async_once.hpp"
#include "common/run_blocking.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace pt::net {
namespace {

[[noreturn]] void reject(std::string_view entry, std::string_view why) {
  throw std::invalid_argument(fmt::format("RESOLVERS entry '{}': {}", printable(entry), why));
}

DnsServer parse_server(std::string_view entry) {
  auto authority = parse_authority(entry);
  if (!authority) reject(entry, fmt::format("expected ip[:port]: {}", authority.error));
  std::error_code ec;
  const auto address = asio::ip::make_address(authority->host, ec);
  // A DNS server named by a name would need DNS to be found: only addresses make sense.
  if (ec) reject(entry, "the server must be an IPv4 or IPv6 address");
  return DnsServer{address, authority->port.value_or(53)};
}

std::string join_servers(const std::vector<DnsServer>& servers) {
  std::string text;
  for (const auto& server : servers) {
    if (!text.empty()) text += ' ';
    text += to_string(server);
  }
  return text;
}

// ---------------------------------------------------------------- c-ares

void init_ares_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const int status = ares_library_init(ARES_LIB_INIT_ALL); status != ARES_SUCCESS) {
      throw std::runtime_error(fmt::format("c-ares initialisation failed: {}", ares_strerror(status)));
    }
  });
}

using Channel = std::unique_ptr<std::remove_pointer_t<ares_channel>, decltype(&ares_destroy)>;

// A channel that asks `servers` only, in order: no /etc/hosts ("b": DNS only), no search domains,
// no HOSTALIASES, since in a DNS-hijack set-up any of those may point back at the proxy.
Channel make_channel(const std::vector<DnsServer>& servers, const DnsResolverOptions& options) {
  init_ares_library();
  ares_options opts{};
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  opts.timeout = static_cast<int>(std::max<std::int64_t>(1, options.try_timeout.count()));
  opts.tries = std::max(1, options.tries);
  char lookups[] = "b";
  opts.lookups = lookups;
  opts.ndomains = 0;
  opts.domains = nullptr;
  const int optmask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS |
                      ARES_OPT_NOROTATE;
  ares_channel raw = nullptr;
  if (const int status = ares_init_options(&raw, &opts, optmask); status != ARES_SUCCESS) {
    if (raw) ares_destroy(raw);
    throw std::runtime_error(fmt::format("c-ares channel: {}", ares_strerror(status)));
  }
  Channel channel(raw, &ares_destroy);

  std::vector<ares_addr_port_node> nodes(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    auto& node = nodes[i];
    node.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
    node.udp_port = servers[i].port;
    node.tcp_port = servers[i].port;
    if (servers[i].address.is_v4()) {
      node.family = AF_INET;
      const auto bytes = servers[i].address.to_v4().to_bytes();
      std::memcpy(&node.addr.addr4, bytes.data(), bytes.size());
    } else {
      node.family = AF_INET6;
      const auto bytes = servers[i].address.to_v6().to_bytes();
      std::memcpy(&node.addr.addr6, bytes.data(), bytes.size());
    }
  }
  if (const int status = ares_set_servers_ports(channel.get(), nodes.empty() ? nullptr : nodes.data());
      status != ARES_SUCCESS) {
    throw std::runtime_error(fmt::format("c-ares servers: {}", ares_strerror(status)));
  }
  return channel;
}

struct QueryState {
  bool done = false;
  int status = ARES_ECANCELLED;
  std::vector<asio::ip::address> addresses;
  std::chrono::seconds ttl{0};
};

void on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto& state = *static_cast<QueryState*>(arg);
  state.done = true;
  state.status = status;
  if (!result) return;
  std::optional<int> min_ttl;
  for (const ares_addrinfo_node* node = result->nodes; node; node = node->ai_next) {
    asio::ip::address address;
    if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
      asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &sin->sin_addr, bytes.size());
      address = asio::ip::address_v4(bytes);
    } else if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &sin6->sin6_addr, bytes.size());
      address = asio::ip::address_v6(bytes, sin6->sin6_scope_id);
    } else {
      continue;
    }
    if (std::find(state.addresses.begin(), state.addresses.end(), address) == state.addresses.end()) {
      state.addresses.push_back(address);
    }
    min_ttl = std::min(min_ttl.value_or(node->ai_ttl), node->ai_ttl);
  }
  // An alias may change before its target's records expire.
  for (const ares_addrinfo_cname* cname = result->cnames; cname && min_ttl; cname = cname->next) {
    min_ttl = std::min(*min_ttl, cname->ttl);
  }
  state.ttl = std::chrono::seconds(std::max(0, min_ttl.value_or(0)));
  ares_freeaddrinfo(result);
}

// Drives the channel until the query completes or `deadline` passes. poll(), not select(): the
// proxy holds many connections, so c-ares' descriptors may lie beyond FD_SETSIZE.
void run_until_done(ares_channel channel, QueryState& state, std::chrono::steady_clock::time_point deadline) {
  while (!state.done) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ares_cancel(channel);  // completes the query with ARES_ECANCELLED
      break;
    }
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
    const int bits = ares_getsock(channel, sockets.data(), ARES_GETSOCK_MAXNUM);
    std::array<pollfd, ARES_GETSOCK_MAXNUM> fds{};
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events) fds[count++] = pollfd{sockets[i], events, 0};
    }

    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    timeval max_wait{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
    timeval storage{};
    const timeval* wait = ares_timeout(channel, &max_wait, &storage);
    const int wait_ms = static_cast<int>(wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);

    const int ready = poll(fds.data(), count, wait_ms);
    if (ready < 0 && errno != EINTR) {
      ares_cancel(channel);
      break;
    }
    if (ready <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retransmissions and timeouts
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const short revents = fds[i].revents;
      const ares_socket_t read_fd = (revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
      const ares_socket_t write_fd = (revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
      if (read_fd != ARES_SOCKET_BAD || write_fd != ARES_SOCKET_BAD) ares_process_fd(channel, read_fd, write_fd);
    }
  }
}

std::string describe_failure(int status, const std::vector<DnsServer>& servers, const DnsResolverOptions& options) {
  switch (status) {
    case ARES_ETIMEOUT:
      return fmt::format("no answer from DNS server(s) {} ({} tries)", join_servers(servers), options.tries);
    case ARES_ECANCELLED:  // our total timeout
      return fmt::format("no answer from DNS server(s) {} within {} ms", join_servers(servers),
                         options.total_timeout.count());
    case ARES_ECONNREFUSED:  // c-ares' verdict for both a closed port and SERVFAIL/REFUSED from every server
      return fmt::format("DNS server(s) {} refused or failed the query (port closed, SERVFAIL or REFUSED)",
                         join_servers(servers));
    case ARES_ESERVFAIL:
      return fmt::format("DNS server(s) {} failed (SERVFAIL)", join_servers(servers));
    case ARES_EREFUSED:
      return fmt::format("DNS server(s) {} refused to answer (REFUSED)", join_servers(servers));
    default:
      return fmt::format("DNS lookup failed: {}", ares_strerror(status));
  }
}

}  // namespace

// ---------------------------------------------------------------- parsing, results, policy

std::vector<DnsServer> parse_dns_servers(std::string_view text) {
  std::vector<DnsServer> servers;
  for (auto entry : split_list(text)) {
    auto server = parse_server(entry);
    if (std::find(servers.begin(), servers.end(), server) != servers.end()) reject(entry, "listed twice");
    servers.push_back(server);
  }
  return servers;
}

std::string to_string(const DnsServer& server) {
  return format_authority(server.address.to_string(), server.port);
}

std::vector<asio::ip::tcp::endpoint> ResolveResult::endpoints(std::uint16_t port) const {
  std::vector<asio::ip::tcp::endpoint> result;
  result.reserve(addresses.size());
  for (const auto& address : addresses) result.emplace_back(address, port);
  return result;
}

std::chrono::seconds cache_lifetime(const DnsAnswer& answer, const DnsResolverOptions& options) {
  switch (answer.status) {
    case DnsAnswer::Status::found:
      if (answer.addresses.empty()) return std::chrono::seconds(0);
      return std::min(std::max(answer.ttl, options.min_ttl), options.max_ttl);
    case DnsAnswer::Status::no_such_name:
      return options.negative_ttl;
    case DnsAnswer::Status::failed:
      break;
  }
  // A timeout or a broken server says nothing about the name: the next lookup asks again.
  return std::chrono::seconds(0);
}

// ---------------------------------------------------------------- cache

const ResolveResult* DnsCache::find(const std::string& name, Clock::time_point now) {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second.result;
}

void DnsCache::store(const std::string& name, ResolveResult result, Clock::time_point expires,
                     Clock::time_point now) {
  if (max_entries_ == 0 || expires <= now) return;
  if (auto it = entries_.find(name); it != entries_.end()) {
    it->second = Entry{std::move(result), expires};
    return;
  }
  make_room(now);
  entries_.emplace(name, Entry{std::move(result), expires});
}

void DnsCache::make_room(Clock::time_point now) {
  if (entries_.size() < max_entries_) return;
  std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
  // Still full: drop what would expire first, the entry that is least worth keeping. Linear, but
  // only when the cache is full of live names, and it is small.
  while (entries_.size() >= max_entries_) {
    const auto soonest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    entries_.erase(soonest);
  }
}

// ---------------------------------------------------------------- the query

DnsAnswer query_dns(const std::vector<DnsServer>& servers, const std::string& name,
                    const DnsResolverOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.total_timeout;
  auto channel = make_channel(servers, options);
  QueryState state;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(channel.get(), name.c_str(), nullptr, &hints, &on_addrinfo, &state);
  run_until_done(channel.get(), state, deadline);
  channel.reset();  // before `state` goes: a still pending query would call back into it

  DnsAnswer answer;
  if (state.status == ARES_SUCCESS && !state.addresses.empty()) {
    answer.status = DnsAnswer::Status::found;
    answer.addresses = std::move(state.addresses);
    answer.ttl = state.ttl;
  } else if (state.status == ARES_SUCCESS || state.status == ARES_ENODATA) {
    answer.status = DnsAnswer::Status::no_such_name;
    answer.error = "no A or AAAA records";
  } else if (state.status == ARES_ENOTFOUND) {
    answer.status = DnsAnswer::Status::no_such_name;
    answer.error = "no such name (NXDOMAIN)";
  } else {
    answer.status = DnsAnswer::Status::failed;
    answer.error = describe_failure(state.status, servers, options);
  }
  return answer;
}

// ---------------------------------------------------------------- resolver

DnsResolver::DnsResolver(std::string_view servers, DnsResolverOptions options)
    : servers_(parse_dns_servers(servers)),
      options_(options),
      cache_(options.max_entries),
      queries_(std::max<std::size_t>(1, options.threads)) {
  if (servers_.empty()) throw std::invalid_argument("RESOLVERS: no DNS server given");
  init_ares_library();
  query_ = [servers = servers_, options](const std::string& name) { return query_dns(servers, name, options); };
}

DnsResolver::DnsResolver(Query query, DnsResolverOptions options)
    : options_(options),
      query_(std::move(query)),
      cache_(options.max_entries),
      queries_(std::max<std::size_t>(1, options.threads)) {}

DnsResolver::~DnsResolver() = default;

asio::awaitable<ResolveResult> DnsResolver::resolve(std::string host) const {
  const std::string name = normalize_host(host);
  std::error_code ec;
  if (const auto ip = asio::ip::make_address(name, ec); !ec) co_return ResolveResult{{ip}, {}};
  if (const auto problem = hostname_problem(name); !problem.empty()) {
    co_return ResolveResult{{}, fmt::format("invalid host name: {}", problem)};
  }

  std::optional<ResolveResult> cached;
  std::shared_ptr<Pending> pending;
  bool asks = false;  // this lookup runs the query; the others for the same name await it
  {
    std::lock_guard lock(mutex_);
    if (const ResolveResult* hit = cache_.find(name, DnsCache::Clock::now())) {
      cached = *hit;
    } else {
      auto& slot = pending_[name];
      if (!slot) {
        slot = std::make_shared<Pending>();
        asks = true;
      }
      pending = slot;
    }
  }
  if (cached) co_return std::move(*cached);
  if (!asks) co_return co_await pending->get();

  DnsAnswer answer;
  try {
    auto work = [this, name] { return query_(name); };
    answer = co_await run_blocking(queries_, work);
  } catch (const std::exception& e) {
    answer = DnsAnswer{.status = DnsAnswer::Status::failed, .error = fmt::format("DNS lookup failed: {}", e.what())};
  }
  ResolveResult result{answer.addresses, answer.error};
  const auto lifetime = cache_lifetime(answer, options_);
  if (result.ok()) {
    spdlog::debug("dns: {} -> {} address(es), first {}, kept {}s", name, result.addresses.size(),
                  result.addresses.front().to_string(), lifetime.count());
  } else {
    spdlog::debug("dns: {}: {}", name, result.error);
  }
  {
    std::lock_guard lock(mutex_);
    const auto now = DnsCache::Clock::now();
    if (lifetime.count() > 0) cache_.store(name, result, now + lifetime, now);
    pending_.erase(name);
  }
  pending->set_value(result);
  co_return result;
}

}  // namespace pt::net
