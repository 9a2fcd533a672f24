#include "proxy/ops/warm_job.hpp"

#include "cache/manifest_negotiation.hpp"
#include "common/ascii.hpp"
#include "common/units.hpp"
#include "common/awaitable.hpp"
#include "common/deadline.hpp"
#include "proxy/http/codec.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/http/read_buffer.hpp"
#include "proxy/registry/mirror_route.hpp"
#include "proxy/registry/session.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <set>

namespace pt::ops {
namespace {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;

// Registries cap manifests at 4 MiB; a larger answer is not a manifest worth parsing.
constexpr std::size_t kMaxManifest = 4 * 1024 * 1024;
// Error bodies are kept only to quote them.
constexpr std::size_t kMaxErrorBody = 4096;
// How often a long blob reports its bytes (and keeps the admin connection alive).
constexpr auto kProgressEvery = std::chrono::seconds(2);
// An index of indexes is followed this deep, no deeper (no registry nests more than one).
constexpr int kMaxIndexDepth = 2;

// A connected pair of loopback TCP sockets: `client` for the warm, `server` for its session. The
// session reads a tcp::socket, as it does on the mirror port. nullopt when connected.
asio::awaitable<std::optional<std::string>> connect_pair(tcp::socket& server, tcp::socket& client) {
  std::string why;
  for (const char* loopback : {"127.0.0.1", "::1"}) {
    const auto address = asio::ip::make_address(loopback);
    tcp::acceptor acceptor(server.get_executor());
    std::error_code ec;
    acceptor.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) acceptor.bind({address, 0}, ec);
    if (!ec) acceptor.listen(4, ec);
    const auto endpoint = ec ? tcp::endpoint() : acceptor.local_endpoint(ec);
    if (ec) {
      why += fmt::format("{}: {}; ", loopback, ec.message());
      continue;
    }
    client.close(ec);
    // The kernel completes the handshake into the backlog: connect first, then accept.
    auto [connect_error] = co_await client.async_connect(endpoint, nothrow_awaitable);
    if (connect_error) {
      why += fmt::format("{}: {}; ", loopback, connect_error.message());
      continue;
    }
    const auto ours = client.local_endpoint(ec);
    // Another local process could have connected to the port in between: only our own client will do.
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto [accept_error] = co_await acceptor.async_accept(server, nothrow_awaitable);
      if (accept_error) {
        why += fmt::format("{}: {}; ", loopback, accept_error.message());
        break;
      }
      std::error_code peer_error;
      if (server.remote_endpoint(peer_error) == ours && !peer_error) {
        server.set_option(tcp::no_delay(true), ec);
        client.set_option(tcp::no_delay(true), ec);
        co_return std::nullopt;
      }
      server.close(ec);
    }
  }
  co_return "no loopback connection for the warm session: " + why;
}

// What the warm's session answered to one request.
struct Answer {
  int status = 0;
  std::string content_type;
  std::string x_cache;
  std::string body;  // when kept (manifests, error texts)
  std::uint64_t bytes = 0;
  std::string error;  // the exchange itself failed (the session closed, a truncated body)
};

// The reason to show for a non-200 answer: the registry's error message when it sent one.
std::string describe(const Answer& answer) {
  if (!answer.error.empty()) return answer.error;
  std::string text;
  auto parsed = nlohmann::json::parse(answer.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array() && !parsed["errors"].empty()) {
    const auto& first = parsed["errors"][0];
    if (first.is_object()) {
      // Upstream's bytes: a field of another type is no reason to throw (json::value would).
      const auto text_of = [&first](const char* name) {
        const auto it = first.find(name);
        return it != first.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      const auto code = text_of("code");
      const auto message = text_of("message");
      text = code.empty() ? message : code + ": " + message;
    }
  }
  if (text.empty()) text = std::string(trim(answer.body));
  return text.empty() ? fmt::format("HTTP {}", answer.status)
                      : fmt::format("HTTP {} ({})", answer.status, printable(text, 300));
}

// The warm's side of the conversation: one image, one connection, requests one after another.
class ImageWarm {
public:
  ImageWarm(tcp::socket& socket, const ImageReference& image, const std::vector<Platform>& platforms,
            ProgressStream& out, const registry::Settings& settings)
      : socket_(socket),
        image_(image),
        platforms_(platforms),
        out_(out),
        settings_(settings),
        parser_(http::Parser::Kind::response, {.max_head_bytes = settings.max_header_bytes}) {
    progress_.image = image.str();
  }

  // nullopt when warmed; else why not.
  asio::awaitable<std::optional<std::string>> run() {
    const std::string reference = image_.digest.empty() ? image_.tag : image_.digest;
    // The tag as a pull asks for it: every manifest type, so an index is stored (and served) as such.
    // (Arguments of coroutines are named variables here, never temporaries: GCC 12 destroys those
    // twice, PR 99576; see common/run_blocking.hpp.)
    const std::string every_type = cache::revalidation_accept();
    auto top = co_await manifest(reference, every_type);
    if (!top.error.empty()) co_return top.error;
    std::vector<Descriptor> blobs;
    const auto collected = co_await collect(top.body, top.content_type, 0, blobs);
    if (collected) co_return collected;

    std::set<std::string> seen;
    std::vector<Descriptor> unique;
    for (auto& blob : blobs) {
      if (seen.insert(blob.digest).second) {
        progress_.bytes_total += blob.size;
        unique.push_back(std::move(blob));
      }
    }
    progress_.blobs_total = unique.size();
    const auto line = manifests_line(progress_);
    const bool sent = co_await emit(line);
    if (!sent) co_return "the admin client went away";
    for (const auto& blob : unique) {
      const auto fetched = co_await fetch_blob(blob);
      if (fetched) co_return fetched;
    }
    co_return std::nullopt;
  }

  const ImageProgress& progress() const { return progress_; }
  bool client_gone() const { return client_gone_; }

private:
  struct Manifest {
    std::string body;
    std::string content_type;
    std::string error;
  };

  // Awaited results are named before they are tested: GCC 12.2 miscompiles
  // `if (co_await f()) co_return x;` in a coroutine returning a value (a finished frame is
  // resumed later: SIGILL or a spin; reproduced outside the proxy).
  asio::awaitable<bool> emit(const std::string& line) {
    if (client_gone_) co_return false;
    const bool sent = co_await out_.send(line);
    if (!sent) client_gone_ = true;
    co_return sent;
  }

  std::string target(std::string_view kind, std::string_view reference) const {
    return fmt::format("/v2/{}/{}/{}?ns={}", image_.repository, kind, reference, image_.registry);
  }

  asio::awaitable<Manifest> manifest(const std::string& reference, const std::string& accept) {
    const auto path = target("manifests", reference);
    auto answer = co_await request("GET", path, accept, kMaxManifest);
    ++progress_.manifests;
    if (answer.error.empty() && answer.status == 200) {
      co_return Manifest{.body = std::move(answer.body), .content_type = std::move(answer.content_type)};
    }
    co_return Manifest{.error = fmt::format("manifest {}: {}", printable(reference, 80), describe(answer))};
  }

  // The blobs of the manifest in `body`: itself an image manifest, or an index whose (selected)
  // manifests are fetched in turn.
  asio::awaitable<std::optional<std::string>> collect(const std::string& body, const std::string& content_type,
                                                      int depth, std::vector<Descriptor>& blobs) {
    const auto type = manifest_media_type(content_type, body);
    if (!is_index_type(type)) {
      auto image = manifest_blobs(body);
      if (!image.error.empty()) co_return image.error;
      for (auto& blob : image.blobs) blobs.push_back(std::move(blob));
      co_return std::nullopt;
    }
    if (depth >= kMaxIndexDepth) co_return std::string("an index nested too deep");
    auto selection = select_manifests(body, depth == 0 ? platforms_ : std::vector<Platform>{});
    if (!selection.error.empty()) co_return selection.error;
    for (const auto& entry : selection.manifests) {
      if (entry.platform && depth == 0) progress_.platforms.push_back(entry.platform->str());
      // By digest, accepting its own type first: what containerd asks after reading the index.
      const std::string accept = entry.media_type.empty() ? cache::revalidation_accept()
                                                          : entry.media_type + ", " + cache::revalidation_accept();
      auto child = co_await manifest(entry.digest, accept);
      if (!child.error.empty()) co_return child.error;
      const auto collected = co_await collect(child.body, child.content_type, depth + 1, blobs);
      if (collected) co_return collected;
    }
    co_return std::nullopt;
  }

  asio::awaitable<std::optional<std::string>> fetch_blob(const Descriptor& blob) {
    const auto path = target("blobs", blob.digest);
    // A cached blob is answered from the cache's index: a HEAD costs no download, upstream or here.
    auto head = co_await request("HEAD", path, "*/*", 0);
    if (!head.error.empty()) co_return fmt::format("blob {}: {}", blob.digest, head.error);
    bool cached = head.status == 200 && iequals_ascii(head.x_cache, "HIT");
    if (!cached) {
      auto got = co_await request("GET", path, "*/*", 0);
      if (!got.error.empty() || got.status != 200) co_return fmt::format("blob {}: {}", blob.digest, describe(got));
      if (blob.size != 0 && got.bytes != blob.size) {
        co_return fmt::format("blob {}: {} bytes, the manifest says {}", blob.digest, got.bytes, blob.size);
      }
      cached = iequals_ascii(got.x_cache, "HIT");
    }
    ++progress_.blobs_done;
    if (cached) ++progress_.blobs_cached;
    const auto line = blob_line(progress_, blob.digest, cached);
    const bool sent = co_await emit(line);
    if (!sent) co_return "the admin client went away";
    co_return std::nullopt;
  }

  static bool iequals_ascii(std::string_view a, std::string_view b) { return to_lower(a) == to_lower(b); }

  // One request to the session and its whole answer; `keep` bytes of the body are kept (more: an
  // error), none when 0, except an error answer's first few.
  asio::awaitable<Answer> request(std::string_view method, const std::string& path, std::string_view accept,
                                  std::size_t keep) {
    Answer answer;
    if (closed_) {
      answer.error = "the warm session closed the connection";
      co_return answer;
    }
    const auto head = fmt::format("{} {} HTTP/1.1\r\nHost: warm\r\nUser-Agent: pullthrough-warm\r\nAccept: {}\r\n\r\n",
                                  method, path, accept);
    const auto write_error = co_await http::write_all(socket_, head);
    if (write_error) {
      answer.error = "the warm session closed: " + write_error.message();
      co_return answer;
    }
    parser_.reset();
    parser_.expect_response_to(method);
    std::error_code ec;
    const auto status = co_await http::read_head(socket_, buffer_, parser_, ec);
    if (status != http::HeadStatus::ok) {
      // The session closes without an answer when its deadline passes (an upstream that hangs),
      // as it would for any client; it logged nothing more, so say where to look.
      answer.error = status == http::HeadStatus::parse_error
                         ? "bad answer from the warm session: " + parser_.error_text()
                         : std::string("no answer: the registry timed out or the connection failed (see the proxy's log)");
      co_return answer;
    }
    const auto& response = parser_.response();
    answer.status = response.status;
    answer.content_type = std::string(response.headers.get("Content-Type").value_or(""));
    answer.x_cache = std::string(response.headers.get("X-Cache").value_or(""));
    const bool keep_all = answer.status == 200 && keep > 0;
    const std::size_t limit = answer.status == 200 ? keep : kMaxErrorBody;
    const bool is_blob = answer.status == 200 && keep == 0 && method == "GET";
    const auto base_bytes = progress_.bytes;
    auto last_report = clock::now();
    bool too_large = false;
    auto sink = [&](std::string_view piece) -> asio::awaitable<std::error_code> {
      answer.bytes += piece.size();
      if (keep_all && answer.body.size() + piece.size() > limit) {
        too_large = true;
        co_return std::make_error_code(std::errc::message_size);
      }
      if (answer.body.size() < limit) answer.body.append(piece.substr(0, limit - answer.body.size()));
      if (is_blob) {
        progress_.bytes = base_bytes + answer.bytes;
        if (clock::now() - last_report >= kProgressEvery) {
          last_report = clock::now();
          const auto line = bytes_line(progress_);
          const bool sent = co_await emit(line);
          if (!sent) co_return std::make_error_code(std::errc::connection_aborted);
        }
      }
      co_return std::error_code{};
    };
    const auto body_error =
        co_await http::read_body(socket_, buffer_, parser_, deadline_, settings_.upstream_idle_timeout, sink);
    if (body_error) {
      answer.error = too_large         ? fmt::format("larger than {} bytes", limit)
                     : client_gone_    ? std::string("the admin client went away")
                                       : "transfer cut: " + body_error.message() + " (see the proxy's log)";
      co_return answer;
    }
    if (!parser_.response().keep_alive) closed_ = true;
    co_return answer;
  }

  tcp::socket& socket_;
  const ImageReference& image_;
  const std::vector<Platform>& platforms_;
  ProgressStream& out_;
  const registry::Settings& settings_;
  ImageProgress progress_;
  http::ReadBuffer buffer_;
  http::Parser parser_;
  Deadline deadline_;  // moved by read_body; the session's own deadline bounds the waits
  bool client_gone_ = false;
  bool closed_ = false;
};

// One chunk of the chunked response.
std::string chunk(std::string_view data) {
  std::string out = http::chunk_header(data.size());
  out.append(data);
  out.append("\r\n");
  return out;
}

http::LocalResponse json_error(int status, std::string message) {
  http::LocalResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = nlohmann::json{{"error", std::move(message)}}.dump(2, ' ', false,
                                                                     nlohmann::json::error_handler_t::replace) + "\n";
  return response;
}

// The warm of one image over a connected pair: the session on `server`, the warm on `client`.
asio::awaitable<std::optional<std::string>> warm_over(tcp::socket& server, tcp::socket& client,
                                                      registry::Dependencies& registry,
                                                      registry::MirrorContext& mirror, const ImageReference& image,
                                                      const registry::MirrorRegistry& upstream,
                                                      const std::vector<Platform>& platforms, ProgressStream& out,
                                                      ImageProgress& progress) {
  using namespace asio::experimental::awaitable_operators;
  const auto executor = co_await asio::this_coro::executor;

  Deadline session_deadline;
  registry::SessionInfo info{.id = 0, .client = "warm", .host = upstream.host, .port = upstream.port};
  registry::Session session(server, registry, session_deadline, std::move(info), &mirror);
  // The session ends when the warm closes its end, or earlier on an error of its own: then its
  // last answer is still to be read, so it only stops writing and waits for the warm to finish.
  auto serve = [&]() -> asio::awaitable<void> {
    co_await (session.run() || session_deadline.watchdog());
    std::error_code ignored;
    server.shutdown(tcp::socket::shutdown_send, ignored);
    asio::steady_timer hold(executor, clock::time_point::max());
    co_await hold.async_wait(nothrow_awaitable);
  };
  ImageWarm warm(client, image, platforms, out, registry.settings);
  auto result = co_await (serve() || warm.run());
  std::error_code ignored;
  client.close(ignored);
  server.close(ignored);
  progress = warm.progress();
  if (result.index() == 1) co_return std::get<1>(result);
  co_return std::string("the warm session ended");
}

}  // namespace

asio::awaitable<WarmOutcome> warm_image(registry::Dependencies& registry, registry::MirrorContext& mirror,
                                        const ImageReference& image, const std::vector<Platform>& platforms,
                                        ProgressStream& out) {
  const auto executor = co_await asio::this_coro::executor;
  std::string failure;
  ImageProgress progress{.image = image.str()};
  const auto upstream = registry::parse_mirror_registry(image.registry);
  tcp::socket server(executor);
  tcp::socket client(executor);
  if (!upstream) {
    failure = "invalid registry name";
  } else {
    const auto unconnected = co_await connect_pair(server, client);
    if (unconnected) {
      failure = *unconnected;
    } else {
      const auto warmed = co_await warm_over(server, client, registry, mirror, image, *upstream, platforms, out, progress);
      if (warmed) failure = *warmed;
    }
  }
  if (!failure.empty()) {
    spdlog::warn("warm: {} failed: {}", image.str(), failure);
    const auto line = failed_line(progress, failure);
    co_await out.send(line);
    co_return WarmOutcome{.warmed = false, .bytes = progress.bytes};
  }
  spdlog::info("warm: {} done: {} manifest(s), {} blob(s) ({} already cached), {} read", image.str(),
               progress.manifests, progress.blobs_done, progress.blobs_cached, format_size(progress.bytes));
  const auto line = done_line(progress);
  co_await out.send(line);
  co_return WarmOutcome{.warmed = true, .bytes = progress.bytes};
}

WarmJobs::WarmJobs(Dependencies& deps, std::size_t max_jobs, WarmLimits limits)
    : deps_(deps), max_jobs_(max_jobs), limits_(limits) {}

asio::awaitable<bool> WarmJobs::serve(const http::RequestHead& request, front::LocalExchange& io) {
  auto refuse = [&](const http::LocalResponse& response) -> asio::awaitable<bool> {
    spdlog::warn("admin: warm refused ({}): {}", response.status, trim(response.body));
    const auto bytes = http::render(response, false, request.method == "HEAD");
    co_await io.write(bytes);
    co_return false;
  };
  if (request.method != "POST") {
    auto response = json_error(405, "use POST /admin/warm with a JSON body; see docs/cache-management.md");
    response.extra_headers.add("Allow", "POST");
    co_return co_await refuse(response);
  }
  auto body = co_await io.read_body(limits_.max_body);
  if (!body) {
    const auto response = json_error(413, fmt::format("the request body is unreadable or larger than {} bytes",
                                                      limits_.max_body));
    co_return co_await refuse(response);
  }
  auto parsed = parse_warm_request(*body, limits_);
  if (!parsed.request) {
    const auto response = json_error(400, parsed.error);
    co_return co_await refuse(response);
  }
  if (!deps_.cache || !deps_.registry) {
    const auto response = json_error(503, "this proxy has no cache to warm");
    co_return co_await refuse(response);
  }

  // A ticket for this job, or a refusal when the others are many enough.
  std::size_t running = running_.load();
  do {
    if (running >= max_jobs_) {
      const auto response = json_error(
          429, fmt::format("{} warm job(s) running, at most {} at once: retry when one is done", running, max_jobs_));
      co_return co_await refuse(response);
    }
  } while (!running_.compare_exchange_weak(running, running + 1));
  struct Ticket {
    std::atomic<std::size_t>& running;
    ~Ticket() { --running; }
  } ticket{running_};

  const auto& warm = *parsed.request;
  std::vector<std::string> platforms;
  for (const auto& platform : warm.platforms) platforms.push_back(platform.str());
  spdlog::info("admin: warming {} image(s){}", warm.images.size(),
               platforms.empty() ? std::string() : fmt::format(" for {}", fmt::join(platforms, ", ")));

  // The session's upstream waits have their own timeouts; the admin client is told of each blob,
  // and of a long blob's bytes every few seconds.
  const auto& settings = deps_.registry->settings;
  io.allow_silence(settings.connect_timeout + settings.header_timeout + settings.upstream_idle_timeout);
  constexpr std::string_view kHead =
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  const auto head_error = co_await io.write(kHead);
  if (head_error) {
    co_return false;
  }
  ProgressStream out(io);
  const auto started = clock::now();
  WarmSummary summary{.images = warm.images.size()};
  for (const auto& image : warm.images) {
    if (out.gone()) break;
    WarmOutcome outcome;
    std::string bug;
    try {
      outcome = co_await warm_image(*deps_.registry, mirror_, image, warm.platforms, out);
    } catch (const std::exception& e) {
      // A bug, not an upstream's failure: logged, reported, and the next image still warmed.
      spdlog::error("warm: {}: {}", image.str(), e.what());
      bug = e.what();
    }
    if (!bug.empty()) {
      const auto line = failed_line({.image = image.str()}, "internal error: " + bug);
      co_await out.send(line);
    }
    (outcome.warmed ? summary.warmed : summary.failed) += 1;
    summary.bytes += outcome.bytes;
  }
  summary.seconds = std::chrono::duration<double>(clock::now() - started).count();
  if (out.gone()) {
    spdlog::warn("admin: warm stopped: the client went away ({} of {} image(s) warmed)", summary.warmed,
                 summary.images);
    co_return false;
  }
  spdlog::info("admin: warm done: {} of {} image(s) warmed, {} failed", summary.warmed, summary.images, summary.failed);
  const auto last = summary_line(summary);
  const bool sent = co_await out.send(last);
  if (sent) co_await out.finish();
  co_return false;
}

asio::awaitable<bool> ProgressStream::send(const std::string& line) {
  if (gone_) co_return false;
  const auto framed = chunk(line);
  const auto ec = co_await io_.write(framed);
  if (ec) gone_ = true;
  co_return !gone_;
}

asio::awaitable<void> ProgressStream::finish() {
  if (gone_) co_return;
  const auto ec = co_await io_.write(http::last_chunk);
  if (ec) gone_ = true;
}

}  // namespace pt::ops
