// pt_loadgen: the benchmark's small load generator for an HTTPS forward proxy.
//
// Every connection is what a container runtime opens: TCP to the proxy, "CONNECT host:port",
// then TLS to the (intercepted) registry, then HTTP/1.1 requests. Modes:
//   keepalive  --conns N threads, one connection each, back-to-back requests for --duration s
//   handshake  --conns N threads, a NEW connection (CONNECT + TLS) per request; --resume offers
//              the previous session of that thread (TLS 1.3 ticket) as a client runtime would
//   idle       opens --conns connections (one request each), prints "ready N", then keeps them
//              open for --hold s (or until stdin closes) so the caller can measure the proxy
// --direct skips the CONNECT: --proxy is then a TLS server itself (the benchmark's nginx
// baseline), reached with the same handshakes and requests as through the proxy.
// keepalive/handshake print one JSON object: requests, errors, seconds, rps, p50/p90/p99/max ms.
//
// Blocking sockets and one thread per connection on purpose: simple, and the client's own cost
// per request (one SSL_write, one SSL_read) stays far below the proxy's.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "keepalive";
  std::string proxy_host = "127.0.0.1";
  std::string proxy_port = "3128";
  std::string target;  // host:port given to CONNECT and as Host
  std::string path = "/v2/";
  std::string method = "HEAD";
  std::string accept = "application/vnd.docker.distribution.manifest.v2+json";
  std::string cafile;
  int conns = 16;
  double duration = 5;
  double hold = 30;
  bool resume = false;
  bool direct = false;  // no CONNECT: TLS straight to --proxy
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pt_loadgen: %s\n", what.c_str());
  std::exit(2);
}

void usage() {
  std::fprintf(stderr,
               "usage: pt_loadgen --proxy HOST:PORT --target HOST:PORT --cafile CA.pem\n"
               "         [--mode keepalive|handshake|idle] [--path P] [--method HEAD|GET]\n"
               "         [--accept TYPE] [--conns N] [--duration S] [--hold S] [--resume] [--direct]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--mode") o.mode = next();
    else if (a == "--proxy") {
      auto v = next();
      auto c = v.rfind(':');
      if (c == std::string::npos) usage();
      o.proxy_host = v.substr(0, c);
      o.proxy_port = v.substr(c + 1);
    } else if (a == "--target") o.target = next();
    else if (a == "--path") o.path = next();
    else if (a == "--method") o.method = next();
    else if (a == "--accept") o.accept = next();
    else if (a == "--cafile") o.cafile = next();
    else if (a == "--conns") o.conns = std::atoi(next().c_str());
    else if (a == "--duration") o.duration = std::atof(next().c_str());
    else if (a == "--hold") o.hold = std::atof(next().c_str());
    else if (a == "--resume") o.resume = true;
    else if (a == "--direct") o.direct = true;
    else usage();
  }
  if (o.target.empty() || o.cafile.empty() || o.conns <= 0) usage();
  if (o.mode != "keepalive" && o.mode != "handshake" && o.mode != "idle") usage();
  return o;
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

// One CONNECT+TLS connection through the proxy. Errors are reported as false, never thrown:
// a failed request is counted, not fatal.
class Connection {
 public:
  Connection(const Options& o, SSL_CTX* ctx) : o_(o), ctx_(ctx) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close(); }

  bool open(SSL_SESSION* offer) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(o_.proxy_host.c_str(), o_.proxy_port.c_str(), &hints, &res) != 0) return false;
    fd_ = ::socket(res->ai_family, SOCK_STREAM, 0);
    bool ok = fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!o_.direct) {
      std::string connect = "CONNECT " + o_.target + " HTTP/1.1\r\nHost: " + o_.target + "\r\n\r\n";
      if (!send_plain(connect)) return false;
      std::string head;
      if (!read_plain_head(head) || head.compare(0, 12, "HTTP/1.1 200") != 0) return false;
    }
    ssl_.reset(SSL_new(ctx_));
    std::string host = o_.target.substr(0, o_.target.rfind(':'));
    SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
    SSL_set1_host(ssl_.get(), host.c_str());
    SSL_set_fd(ssl_.get(), fd_);
    if (offer) SSL_set_session(ssl_.get(), offer);
    if (SSL_connect(ssl_.get()) != 1) return false;
    return true;
  }

  bool resumed() const { return ssl_ && SSL_session_reused(ssl_.get()); }
  std::string version() const { return ssl_ ? SSL_get_version(ssl_.get()) : ""; }
  SSL_SESSION* session() const { return ssl_ ? SSL_get1_session(ssl_.get()) : nullptr; }

  // One request; true when a 200 came back (and, for GET, its body was read).
  bool request() {
    std::string req = o_.method + " " + o_.path + " HTTP/1.1\r\nHost: " + o_.target + "\r\nAccept: " + o_.accept +
                      "\r\nUser-Agent: pt_loadgen\r\n\r\n";
    if (SSL_write(ssl_.get(), req.data(), static_cast<int>(req.size())) <= 0) return false;
    std::string head;
    if (!read_tls_head(head)) return false;
    bool ok = head.compare(0, 12, "HTTP/1.1 200") == 0;
    if (o_.method == "GET") {
      std::size_t len = content_length(head);
      while (body_.size() < len) {
        char buf[65536];
        int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n <= 0) return false;
        body_.append(buf, static_cast<std::size_t>(n));
      }
      body_.erase(0, len);
    }
    return ok;
  }

  void close() {
    if (ssl_) {
      SSL_shutdown(ssl_.get());  // sends close_notify; does not wait for the peer's
      ssl_.reset();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    body_.clear();
  }

 private:
  static std::size_t content_length(const std::string& head) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    auto p = lower.find("\r\ncontent-length:");
    return p == std::string::npos ? 0 : std::strtoull(lower.c_str() + p + 17, nullptr, 10);
  }

  bool send_plain(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The CONNECT answer, byte by byte so nothing of the TLS stream is consumed.
  bool read_plain_head(std::string& head) {
    char c;
    while (head.size() < 65536) {
      if (::recv(fd_, &c, 1, 0) != 1) return false;
      head.push_back(c);
      if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) return true;
    }
    return false;
  }

  // A response head; bytes after it stay in body_ (one request in flight, so at most its body).
  bool read_tls_head(std::string& head) {
    for (;;) {
      auto end = body_.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = body_.substr(0, end + 4);
        body_.erase(0, end + 4);
        return true;
      }
      if (body_.size() > 65536) return false;
      char buf[16384];
      int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) return false;
      body_.append(buf, static_cast<std::size_t>(n));
    }
  }

  const Options& o_;
  SSL_CTX* ctx_;
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string body_;  // bytes read past the last response head
};

struct ThreadResult {
  std::vector<double> latencies_ms;
  long errors = 0;
  long resumed = 0;
  std::string version;  // the TLS version of the first connection: baselines must compare alike
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

void run_worker(const Options& o, SSL_CTX* ctx, Clock::time_point end, ThreadResult& r) {
  Connection c(o, ctx);
  SSL_SESSION* session = nullptr;
  bool open = false;
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    bool ok = true;
    if (o.mode == "handshake" || !open) {
      ok = c.open(o.resume ? session : nullptr);
      open = ok;
      if (ok && r.version.empty()) r.version = c.version();
      if (ok && c.resumed()) ++r.resumed;
    }
    if (ok) ok = c.request();
    auto t1 = Clock::now();
    if (ok) {
      r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    } else {
      ++r.errors;
      open = false;
      c.close();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a dead proxy must not spin us
      continue;
    }
    if (o.mode == "handshake") {
      if (o.resume) {
        SSL_SESSION_free(session);
        session = c.session();  // carries the ticket received with the response
      }
      c.close();
      open = false;
    }
  }
  SSL_SESSION_free(session);
}

int run_load(const Options& o, SSL_CTX* ctx) {
  std::vector<ThreadResult> results(static_cast<std::size_t>(o.conns));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  for (int i = 0; i < o.conns; ++i) threads.emplace_back(run_worker, std::cref(o), ctx, end, std::ref(results[i]));
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  long errors = 0, resumed = 0;
  std::string versions;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    errors += r.errors;
    resumed += r.resumed;
    if (!r.version.empty() && versions.find(r.version) == std::string::npos) {
      versions += (versions.empty() ? "" : ",") + r.version;
    }
  }
  std::sort(all.begin(), all.end());
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  double client_cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf(
      "{\"mode\":\"%s\",\"resume\":%s,\"conns\":%d,\"requests\":%zu,\"errors\":%ld,\"resumed\":%ld,"
      "\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"client_cpu_s\":%.3f,\"tls\":\"%s\"}\n",
      o.mode.c_str(), o.resume ? "true" : "false", o.conns, all.size(), errors, resumed, seconds,
      static_cast<double>(all.size()) / seconds, percentile(all, 0.5), percentile(all, 0.9), percentile(all, 0.99),
      all.empty() ? 0.0 : all.back(), client_cpu, versions.c_str());
  return all.empty() ? 1 : 0;
}

int run_idle(const Options& o, SSL_CTX* ctx) {
  std::vector<std::unique_ptr<Connection>> conns;
  long failed = 0;
  for (int i = 0; i < o.conns; ++i) {
    auto c = std::make_unique<Connection>(o, ctx);
    if (c->open(nullptr) && c->request()) conns.push_back(std::move(c));
    else ++failed;
  }
  std::printf("ready %zu failed %ld\n", conns.size(), failed);
  std::fflush(stdout);
  // Hold until --hold elapses or stdin closes, whichever first.
  pollfd p{0, POLLIN, 0};
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.hold));
  while (Clock::now() < end) {
    if (::poll(&p, 1, 100) > 0) {
      char b[64];
      if (::read(0, b, sizeof b) <= 0) break;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) die("SSL_CTX_new failed");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), o.cafile.c_str(), nullptr) != 1) die("cannot load " + o.cafile);
  // Sessions are handed over explicitly (--resume), never from a shared client cache.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  return o.mode == "idle" ? run_idle(o, ctx.get()) : run_load(o, ctx.get());
}
