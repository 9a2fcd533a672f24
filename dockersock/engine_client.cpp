#include "dockersock/engine_client.hpp"

#include "proxy/http/message_io.hpp"

#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pt::dockersock {
namespace {
constexpr std::size_t max_kept_body = 1 << 20;
}

std::string EngineReply::message() const {
  if (ec) return "cannot reach the Docker engine: " + ec.message();
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object()) {
    if (const auto m = json.find("message"); m != json.end() && m->is_string()) return m->get<std::string>();
  }
  if (!body.empty()) return body;
  return fmt::format("the Docker engine answered {}", status);
}

std::string engine_error_json(std::string_view message) {
  return nlohmann::json{{"message", message}}.dump() + "\n";
}

asio::awaitable<std::error_code> connect_engine(const EngineEndpoint& engine, LocalSocket& socket) {
  auto [ec] = co_await socket.async_connect(asio::local::stream_protocol::endpoint(engine.path), nothrow_awaitable);
  co_return ec;
}

asio::awaitable<EngineReply> engine_call(const EngineEndpoint& engine, std::string_view method, std::string target,
                                         std::string body, std::function<void(std::string_view)> on_body) {
  EngineReply reply;
  LocalSocket socket(co_await asio::this_coro::executor);
  if ((reply.ec = co_await connect_engine(engine, socket))) co_return reply;
  std::string request = fmt::format("{} {} HTTP/1.1\r\nHost: docker\r\nUser-Agent: pullthrough-docker-socket\r\n",
                                    method, target);
  if (!body.empty() || method == "POST") request += fmt::format("Content-Length: {}\r\n", body.size());
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  request += "Connection: close\r\n\r\n";
  request += body;
  if ((reply.ec = co_await http::write_all(socket, request))) co_return reply;

  http::ReadBuffer buffer;
  http::Parser parser(http::Parser::Kind::response);
  parser.expect_response_to(method);
  std::error_code ec;
  const auto status = co_await http::read_head(socket, buffer, parser, ec);
  if (status != http::HeadStatus::ok) {
    reply.ec = ec ? ec : std::make_error_code(std::errc::bad_message);
    co_return reply;
  }
  reply.status = parser.response().status;
  Deadline unwatched;  // the engine may take as long as a pull takes
  auto sink = [&](std::string_view piece) -> asio::awaitable<std::error_code> {
    if (reply.body.size() < max_kept_body) reply.body.append(piece.substr(0, max_kept_body - reply.body.size()));
    if (on_body) on_body(piece);
    co_return std::error_code{};
  };
  reply.ec = co_await http::read_body(socket, buffer, parser, unwatched, std::chrono::hours(24), sink);
  co_return reply;
}

}  // namespace pt::dockersock
