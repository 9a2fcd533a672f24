#include "dockersock/session.hpp"

#include "dockersock/progress_scanner.hpp"
#include "dockersock/raw_head.hpp"
#include "proxy/http/message_io.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <optional>

namespace pt::dockersock {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr auto stream_idle = std::chrono::hours(24 * 365);  // pulls, logs and events may stream for long

std::string status_line_reason(int status) { return std::string(http::reason_phrase(status)); }

// A JSON message in the engine's progress format, one line.
std::string progress_line(const nlohmann::json& message) { return message.dump() + "\r\n"; }

// Copies one direction of a hijacked connection until EOF; then half-closes the other side so
// the peer sees the end of input (docker's CloseWrite), while the other direction goes on.
asio::awaitable<void> pump(LocalSocket& from, LocalSocket& to, std::string early) {
  std::error_code ec;
  if (!early.empty()) ec = co_await http::write_all(to, early);
  std::vector<char> buffer(http::body_read_size);
  while (!ec) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(buffer), nothrow_awaitable);
    if (n > 0) ec = co_await http::write_all(to, std::string_view(buffer.data(), n));
    if (read_ec == asio::error::eof && !ec) {
      to.shutdown(asio::socket_base::shutdown_send, ec);
      co_return;
    }
    if (read_ec) ec = read_ec;
  }
  // A real failure ends both directions: closing cancels the other pump's pending read.
  std::error_code ignored;
  from.close(ignored);
  to.close(ignored);
}

class Session {
public:
  Session(LocalSocket client, const Settings& settings) : client_(std::move(client)), settings_(settings) {}

  asio::awaitable<void> run() {
    for (;;) {
      http::Parser parser(http::Parser::Kind::request, {.max_head_bytes = settings_.max_head_bytes});
      std::optional<std::string> upgrade;
      const auto got = co_await read_request_head(parser, upgrade);
      if (!got) co_return;
      http::RequestHead head = parser.request();
      head_request_ = head.method == "HEAD";
      if (upgrade) head.headers.add("Upgrade", *upgrade);
      // The body is read from the client whatever the engine would say, so the client need not
      // wait for the engine's 100 (curl does, for a second, before larger bodies).
      if (head.headers.has_token("Expect", "100-continue")) {
        head.headers.remove("Expect");
        if (co_await http::write_all(client_, std::string_view("HTTP/1.1 100 Continue\r\n\r\n"))) co_return;
      }
      const auto target = split_target(head.target);
      bool keep = false;
      switch (upgrade ? Endpoint::other : classify(head.method, target)) {
        case Endpoint::image_create:
          keep = co_await image_create(head, parser, target);
          break;
        case Endpoint::container_create:
          keep = co_await container_create(head, parser, target);
          break;
        case Endpoint::other:
          keep = co_await forward(head, parser, upgrade.has_value(), nullptr, nullptr);
          break;
      }
      if (!keep || !head.keep_alive) co_return;
    }
  }

private:
  // Reads one request head; the Upgrade field is taken out before the codec sees it.
  asio::awaitable<bool> read_request_head(http::Parser& parser, std::optional<std::string>& upgrade) {
    for (;;) {
      if (const auto length = head_length(client_buffer_.data())) {
        auto split = split_upgrade_field(client_buffer_.data().substr(0, length));
        const auto used = parser.feed(split.head);
        client_buffer_.consume(length);
        if (used != split.head.size() || !parser.head_complete()) {
          co_await reply_json(400, "bad request: " + parser.error_text(), false);
          co_return false;
        }
        upgrade = std::move(split.upgrade);
        co_return true;
      }
      if (client_buffer_.size() >= settings_.max_head_bytes) {
        co_await reply_json(431, "request head too large", false);
        co_return false;
      }
      if (auto ec = co_await http::read_more(client_, client_buffer_, http::head_read_size)) {
        if (!client_buffer_.empty() && !http::is_disconnect(ec)) spdlog::debug("docker-socket: client read: {}", ec.message());
        co_return false;
      }
    }
  }

  asio::awaitable<void> reply_json(int status, std::string_view message, bool keep_alive) {
    const auto body = engine_error_json(message);
    const auto response = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{}", status,
        status_line_reason(status), body.size(), keep_alive ? "" : "Connection: close\r\n",
        head_request_ ? std::string() : body);  // (the docker CLI pings with HEAD)
    co_await http::write_all(client_, response);
  }

  // Reads the client's request body to the end, into `sink`.
  template <class Sink>
  asio::awaitable<std::error_code> read_client_body(http::Parser& parser, Sink& sink) {
    co_return co_await http::read_body(client_, client_buffer_, parser, unwatched_, stream_idle, sink);
  }

  asio::awaitable<bool> discard_body(http::Parser& parser) {
    auto drop = [](std::string_view) -> asio::awaitable<std::error_code> { co_return std::error_code{}; };
    co_return !(co_await read_client_body(parser, drop));
  }

  // Forwards the request (the client's body, or `body` when given) on a new engine connection,
  // then the engine's response to the client. `pull` makes it a pull through the mirror.
  asio::awaitable<bool> forward(http::RequestHead& head, http::Parser& parser, bool upgrade, const PullPlan* pull,
                                const std::string* body) {
    LocalSocket engine(co_await asio::this_coro::executor);
    if (auto ec = co_await connect_engine(settings_.engine, engine)) {
      spdlog::warn("docker-socket: {} {}: cannot reach the Docker engine at {}: {}", head.method, head.target,
                   settings_.engine.path, ec.message());
      bool drained = true;
      if (body == nullptr) drained = co_await discard_body(parser);
      co_await reply_json(502,
                          fmt::format("pullthrough: cannot reach the Docker engine at {}: {}", settings_.engine.path,
                                      ec.message()),
                          drained && head.keep_alive);
      co_return drained;
    }
    if (body != nullptr) {
      head.headers.remove("Transfer-Encoding");
      head.headers.set("Content-Length", std::to_string(body->size()));
      if (co_await http::write_all(engine, http::serialize(head) + *body)) co_return false;
    } else {
      if (co_await http::write_all(engine, http::serialize(head))) co_return false;
      http::BodyWriter writer(head.framing == http::BodyFraming::chunked);
      auto to_engine = [&](std::string_view piece) -> asio::awaitable<std::error_code> {
        co_return co_await writer.write(engine, piece);
      };
      if (head.framing != http::BodyFraming::none) {
        if (co_await read_client_body(parser, to_engine)) co_return false;
        if (co_await writer.finish(engine)) co_return false;
      }
    }
    co_return co_await pass_response(engine, head, upgrade, pull);
  }

  // Streams the engine's answer to the client as it arrives. Returns whether the client
  // connection may carry another request.
  asio::awaitable<bool> pass_response(LocalSocket& engine, const http::RequestHead& request, bool upgrade,
                                      const PullPlan* pull) {
    http::ReadBuffer buffer;
    std::size_t length = 0;
    while ((length = head_length(buffer.data())) == 0) {
      if (buffer.size() >= settings_.max_head_bytes) {
        co_await reply_json(502, "pullthrough: the Docker engine sent an oversized response head", false);
        co_return false;
      }
      if (auto ec = co_await http::read_more(engine, buffer, http::head_read_size)) {
        spdlog::warn("docker-socket: {} {}: the Docker engine closed the connection: {}", request.method,
                     request.target, ec.message());
        co_await reply_json(502, "pullthrough: the Docker engine closed the connection without answering", false);
        co_return false;
      }
    }
    std::string raw_head(buffer.data().substr(0, length));
    int status = response_status(raw_head);
    // Interim responses (102 Processing, ...) go to the client; the final one follows.
    while (status >= 100 && status < 200 && status != 101) {
      if (co_await http::write_all(client_, raw_head)) co_return false;
      buffer.consume(length);
      while ((length = head_length(buffer.data())) == 0) {
        // The client already has a head: on failure it sees the connection close.
        if (buffer.size() >= settings_.max_head_bytes) co_return false;
        if (co_await http::read_more(engine, buffer, http::head_read_size)) co_return false;
      }
      raw_head.assign(buffer.data().substr(0, length));
      status = response_status(raw_head);
    }
    spdlog::info("docker-socket request method={} path={} status={}{}", request.method, request.target, status,
                 pull ? " via=" + pull->mirror_reference : "");
    if (status == 101) {
      buffer.consume(length);
      co_await hijack(engine, raw_head, buffer);
      co_return false;
    }
    http::Parser parser(http::Parser::Kind::response, {.max_head_bytes = settings_.max_head_bytes});
    parser.expect_response_to(request.method);
    const auto used = parser.feed(buffer.data());
    if (used != length || !parser.head_complete()) {
      co_await reply_json(502, "pullthrough: bad response from the Docker engine: " + parser.error_text(), false);
      co_return false;
    }
    buffer.consume(used);
    const auto& response = parser.response();
    // Engines before the 101 answer a hijack with 200 and then speak raw bytes both ways.
    if (upgrade && response.framing == http::BodyFraming::until_close) {
      co_await hijack(engine, raw_head, buffer);
      co_return false;
    }
    if (co_await http::write_all(client_, raw_head)) co_return false;

    const bool chunked = response.framing == http::BodyFraming::chunked;
    const bool follow_up = pull != nullptr && status == 200 && chunked;
    http::BodyWriter writer(chunked);
    ProgressScanner scanner;
    bool client_failed = false;
    auto to_client = [&](std::string_view piece) -> asio::awaitable<std::error_code> {
      if (follow_up) scanner.feed(piece);
      auto ec = co_await writer.write(client_, piece);
      client_failed = static_cast<bool>(ec);
      co_return ec;
    };
    if (auto ec = co_await http::read_body(engine, buffer, parser, unwatched_, stream_idle, to_client)) {
      // The client went away (the engine then cancels what it was doing when we close), or the
      // engine broke off mid-body: the client sees the body cut short, as from the engine itself.
      if (!client_failed) {
        spdlog::warn("docker-socket: {} {}: engine response cut: {}", request.method, request.target, ec.message());
      }
      co_return false;
    }
    if (follow_up) {
      scanner.finish();
      const auto outcome = co_await after_pull(*pull, scanner, split_target(request.target).version_prefix);
      if (co_await writer.write(client_, outcome.message)) co_return false;
    }
    if (co_await writer.finish(client_)) co_return false;
    co_return response.keep_alive;
  }

  // After the 101 both sides speak their own protocol (docker's raw or multiplexed stream).
  asio::awaitable<void> hijack(LocalSocket& engine, const std::string& raw_head, http::ReadBuffer& engine_buffer) {
    if (co_await http::write_all(client_, raw_head)) co_return;
    std::string from_client(client_buffer_.data());
    client_buffer_.consume(client_buffer_.size());
    std::string from_engine(engine_buffer.data());
    co_await (pump(client_, engine, std::move(from_client)) && pump(engine, client_, std::move(from_engine)));
  }

  struct PullOutcome {
    bool ok = false;
    std::string message;  // a progress message for the client's stream (engine format), may be ""
  };

  // The pull through the mirror finished: name the image as the client asked.
  asio::awaitable<PullOutcome> after_pull(const PullPlan& pull, const ProgressScanner& scanner,
                                          const std::string& version_prefix) {
    const auto wanted = with_suffix(pull.client_repository, pull.original);
    if (scanner.failed()) {
      spdlog::warn("docker-socket: pull of {} via {} failed: {}", wanted, pull.mirror_reference, scanner.error());
      co_return PullOutcome{};
    }
    if (pull.tag_target.empty()) {
      spdlog::info("docker-socket: pulled {} by digest as {} (a digest cannot be tagged)", wanted,
                   pull.mirror_reference);
      co_return PullOutcome{true, progress_line({{"status", fmt::format("Pulled by digest via the mirror as {}",
                                                                        pull.mirror_reference)}})};
    }
    const auto reply = co_await engine_call(settings_.engine, "POST", version_prefix + pull.tag_target);
    if (!reply.ec && reply.status / 100 == 2) {
      spdlog::info("docker-socket: tagged {} as {}", pull.mirror_reference, wanted);
      co_return PullOutcome{true, progress_line({{"status", fmt::format("Tagged {} as {}", pull.mirror_reference, wanted)}})};
    }
    const auto message = fmt::format("pulled {} but could not tag it as {}: {}", pull.mirror_reference, wanted,
                                     reply.message());
    spdlog::warn("docker-socket: {}", message);
    co_return PullOutcome{false, progress_line({{"errorDetail", {{"message", message}}}, {"error", message}})};
  }

  asio::awaitable<bool> image_create(http::RequestHead& head, http::Parser& parser, const ApiTarget& target) {
    auto decision = plan_image_create(Query::parse(target.query), settings_.policy);
    if (!decision.plan) {
      spdlog::debug("docker-socket: {} unchanged: {}", head.target, decision.reason);
      co_return co_await forward(head, parser, false, nullptr, nullptr);
    }
    const auto& plan = *decision.plan;
    spdlog::info("docker-socket: pull of {} goes via {}", with_suffix(plan.client_repository, plan.original),
                 plan.mirror_reference);
    head.target = target.version_prefix + target.path + "?" + plan.mirror_query.encode();
    // The client's credentials are for the original registry; the mirror has its own.
    head.headers.remove("X-Registry-Auth");
    co_return co_await forward(head, parser, false, &plan, nullptr);
  }

  // containers/create fails for an image the engine lacks; the CLI would then pull it itself,
  // but API clients may not. So a missing image of a rewritten registry is pulled via the mirror
  // (and tagged back) before the create goes to the engine.
  asio::awaitable<bool> container_create(http::RequestHead& head, http::Parser& parser, const ApiTarget& target) {
    std::string body;
    bool too_large = false;
    auto keep = [&](std::string_view piece) -> asio::awaitable<std::error_code> {
      if (body.size() + piece.size() > settings_.max_create_body) {
        too_large = true;
        co_return std::make_error_code(std::errc::message_size);
      }
      body.append(piece);
      co_return std::error_code{};
    };
    if (head.framing != http::BodyFraming::none) {
      if (co_await read_client_body(parser, keep)) {
        if (too_large) co_await reply_json(413, "pullthrough: containers/create body too large", false);
        co_return false;
      }
    }
    auto config = nlohmann::json::parse(body, nullptr, false);
    if (config.is_object() && config.contains("Image") && config["Image"].is_string()) {
      const auto image = config["Image"].get<std::string>();
      const auto platform = Query::parse(target.query).get("platform").value_or("");
      const auto decision = plan_container_image(image, platform, settings_.policy);
      bool pulled = false;
      if (decision.plan) pulled = co_await ensure_image(image, *decision.plan, target.version_prefix);
      if (pulled && !decision.plan->original.digest.empty()) {
        // A digest reference cannot be tagged back: the container is created from the mirror's name.
        config["Image"] = decision.plan->mirror_reference;
        body = config.dump();
      }
    }
    co_return co_await forward(head, parser, false, nullptr, &body);
  }

  // True when the image was missing and is now pulled from the mirror.
  asio::awaitable<bool> ensure_image(const std::string& image, const PullPlan& plan, const std::string& prefix) {
    const auto inspect = co_await engine_call(settings_.engine, "GET", prefix + "/images/" + image + "/json");
    if (inspect.ec || inspect.status != 404) co_return false;  // present, or the create will report the problem
    spdlog::info("docker-socket: {} is missing: pulling it via {}", image, plan.mirror_reference);
    ProgressScanner scanner;
    auto scan = [&scanner](std::string_view piece) { scanner.feed(piece); };
    const auto pulled = co_await engine_call(settings_.engine, "POST",
                                             prefix + "/images/create?" + plan.mirror_query.encode(), {}, scan);
    scanner.finish();
    if (pulled.ec || pulled.status != 200 || scanner.failed()) {
      // The create then fails as it would without us, with the engine's "No such image".
      spdlog::warn("docker-socket: pull of {} via {} failed: {}", image, plan.mirror_reference,
                   scanner.failed() ? scanner.error() : pulled.message());
      co_return false;
    }
    const auto outcome = co_await after_pull(plan, scanner, prefix);
    co_return outcome.ok;
  }

  LocalSocket client_;
  http::ReadBuffer client_buffer_;
  const Settings& settings_;
  Deadline unwatched_;  // read_body moves a deadline; no watchdog runs on it here
  bool head_request_ = false;  // the current request is a HEAD: answers carry no body
};

}  // namespace

asio::awaitable<void> serve_client(LocalSocket client, const Settings& settings) {
  Session session(std::move(client), settings);
  co_await session.run();
}

}  // namespace pt::dockersock
