#include "proxy/app/warm_cli.hpp"

#include "common/ascii.hpp"
#include "common/host_port.hpp"
#include "common/image_reference.hpp"
#include "common/units.hpp"
#include "proxy/http/codec.hpp"
#include "proxy/ops/warm_request.hpp"

#include <CLI/CLI.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

namespace pt::app {
namespace {

using nlohmann::json;

std::string short_digest(std::string_view digest) {
  const auto colon = digest.find(':');
  const auto hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  return std::string(hex.substr(0, 12));
}

std::uint64_t number(const json& line, const char* name) {
  const auto it = line.find(name);
  return it != line.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string text_field(const json& line, const char* name) {
  const auto it = line.find(name);
  return it != line.end() && it->is_string() ? printable(it->get<std::string>(), 400) : std::string();
}

std::string counts(const json& line) {
  return fmt::format("{}/{} blobs ({} already cached), {} of {} read", number(line, "blobs_done"),
                     number(line, "blobs_total"), number(line, "blobs_cached"), format_size(number(line, "bytes")),
                     format_size(number(line, "bytes_total")));
}

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : std::move(fallback);
}

// The warm request's body.
std::string request_body(const std::vector<std::string>& images, const std::vector<std::string>& platforms) {
  json body{{"images", images}};
  if (!platforms.empty()) body["platforms"] = platforms;
  return body.dump();
}

// Sends the request and prints the streamed answer as it comes. Blocking I/O: a command-line tool.
int warm(const ProxyAddress& proxy, const std::string& token, const std::string& body, bool raw) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(proxy.host, std::to_string(proxy.port), ec);
  if (!ec) asio::connect(socket, endpoints, ec);
  if (ec) {
    std::cerr << fmt::format("pullthrough warm: cannot reach the proxy at {}: {}\n", proxy.authority, ec.message());
    return 1;
  }
  std::string head = fmt::format(
      "POST /admin/warm HTTP/1.1\r\nHost: {}\r\nUser-Agent: pullthrough-warm\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nConnection: close\r\n",
      proxy.authority, body.size());
  if (!token.empty()) head += "Authorization: Bearer " + token + "\r\n";
  head += "\r\n" + body;
  asio::write(socket, asio::buffer(head), ec);
  if (ec) {
    std::cerr << fmt::format("pullthrough warm: sending to {}: {}\n", proxy.authority, ec.message());
    return 1;
  }

  http::Parser parser(http::Parser::Kind::response);
  parser.expect_response_to("POST");
  std::string pending;  // body bytes of a line not yet complete
  std::string error_body;
  std::vector<char> buffer(64 * 1024);
  std::string unparsed;
  bool summary_seen = false;
  bool all_warmed = false;
  int status = 0;
  auto take_line = [&](std::string_view line) {
    if (raw) {
      std::cout << line << "\n" << std::flush;
    }
    const auto text = describe_warm_line(line);
    if (text.summary) {
      summary_seen = true;
      all_warmed = text.all_warmed;
    }
    if (raw || text.text.empty()) return;
    (text.to_stdout ? std::cout : std::cerr) << text.text << "\n" << std::flush;
  };
  for (;;) {
    const auto n = socket.read_some(asio::buffer(buffer), ec);
    unparsed.append(buffer.data(), n);
    while (!unparsed.empty() && !parser.failed() && !parser.message_complete()) {
      const auto used = parser.feed(unparsed);
      if (parser.head_complete() && status == 0) status = parser.response().status;
      for (auto piece : parser.body()) (status == 200 ? pending : error_body).append(piece);
      unparsed.erase(0, used);
      for (std::size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
        take_line(std::string_view(pending).substr(0, newline));
        pending.erase(0, newline + 1);
      }
      if (used == 0) break;
    }
    if (parser.failed()) {
      std::cerr << fmt::format("pullthrough warm: bad answer from {}: {}\n", proxy.authority, parser.error_text());
      return 1;
    }
    if (parser.message_complete()) break;
    if (ec) {
      // The answer may be framed by the close (an error page); a chunked one cut short is not complete.
      parser.feed_eof();
      for (auto piece : parser.body()) (status == 200 ? pending : error_body).append(piece);
      break;
    }
  }
  if (!pending.empty()) take_line(pending);
  if (status != 200) {
    auto message = error_body;
    const auto parsed = json::parse(error_body, nullptr, false);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) message = parsed["error"];
    std::cerr << fmt::format("pullthrough warm: the proxy answered {}: {}\n", status == 0 ? std::string("nothing") : std::to_string(status),
                             printable(trim(message), 400));
    return 1;
  }
  if (!summary_seen) {
    std::cerr << "pullthrough warm: the proxy's answer ended before its summary (see the proxy's log)\n";
    return 1;
  }
  return all_warmed ? 0 : 1;
}

}  // namespace

std::optional<ProxyAddress> parse_proxy_address(std::string_view text) {
  if (text.starts_with("http://")) text.remove_prefix(7);
  if (text.ends_with('/')) text.remove_suffix(1);
  if (text.empty() || text.find_first_of("/@?#") != std::string_view::npos) return std::nullopt;
  const auto parsed = parse_authority(text);
  if (!parsed.value) return std::nullopt;
  ProxyAddress out{.host = parsed.value->host, .port = parsed.value->port.value_or(3128)};
  out.authority = format_authority(out.host, out.port);
  return out;
}

WarmLineText describe_warm_line(std::string_view text) {
  WarmLineText out;
  const auto line = json::parse(text, nullptr, false);
  if (!line.is_object()) {
    out.text = "? " + printable(text, 200);
    return out;
  }
  const auto event = text_field(line, "event");
  const auto image = text_field(line, "image");
  if (event == "manifests") {
    std::string platforms;
    if (const auto it = line.find("platforms"); it != line.end() && it->is_array()) {
      std::vector<std::string> names;
      for (const auto& p : *it) {
        if (p.is_string()) names.push_back(printable(p.get<std::string>(), 40));
      }
      if (!names.empty()) platforms = fmt::format(" [{}]", fmt::join(names, ", "));
    }
    out.text = fmt::format("{}: {} manifest(s){}, {} blob(s), {}", image, number(line, "manifests"), platforms,
                           number(line, "blobs_total"), format_size(number(line, "bytes_total")));
  } else if (event == "blob") {
    const bool cached = line.value("cached", false);
    out.text = fmt::format("{}: {} {}: {}", image, short_digest(text_field(line, "digest")),
                           cached ? "cached" : "fetched", counts(line));
  } else if (event == "progress") {
    out.text = fmt::format("{}: {}", image, counts(line));
  } else if (event == "done") {
    out.to_stdout = true;
    out.text = fmt::format("{}: done: {} manifest(s), {}", image, number(line, "manifests"), counts(line));
  } else if (event == "failed") {
    out.to_stdout = true;
    out.text = fmt::format("{}: FAILED: {}", image, text_field(line, "reason"));
  } else if (event == "summary") {
    out.to_stdout = true;
    out.summary = true;
    const auto images = number(line, "images");
    const auto warmed = number(line, "warmed");
    out.all_warmed = images > 0 && warmed == images && number(line, "failed") == 0;
    double seconds = 0;
    if (const auto it = line.find("seconds"); it != line.end() && it->is_number()) seconds = it->get<double>();
    out.text = fmt::format("warmed {} of {} image(s), {} failed, {} read in {:.1f} s", warmed, images,
                           number(line, "failed"), format_size(number(line, "bytes")), seconds);
  }
  return out;
}

int run_warm_cli(int argc, char** argv) {
  CLI::App app{"Fill a running proxy's cache with images before a rollout (POST /admin/warm).\n"
               "Exit status: 0 when every image was warmed, 1 otherwise, 2 for a usage error.",
               "pullthrough warm"};
  std::string proxy_text = env_or("PULLTHROUGH_PROXY", "http://127.0.0.1:3128");
  std::string token = env_or("ADMIN_TOKEN", "");
  std::vector<std::string> platforms;
  std::vector<std::string> images;
  bool raw = false;
  app.add_option("--proxy", proxy_text, "The proxy's LISTEN address, http://host:port (env PULLTHROUGH_PROXY)")
      ->capture_default_str();
  app.add_option("--platform", platforms, "Only these platforms of an index: os/arch[/variant], comma separated "
                                          "(default: every platform)")
      ->delimiter(',')
      ->allow_extra_args(false);  // --platform takes one value (a comma list); the images follow
  app.add_option("--admin-token", token, "ADMIN_TOKEN of the proxy, needed unless it runs on this host (env ADMIN_TOKEN)");
  app.add_flag("--json", raw, "Print the proxy's NDJSON progress lines as they are");
  app.add_option("image", images, "Image references: registry/name:tag, name:tag (Docker Hub), ...@sha256:...")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const auto proxy = parse_proxy_address(proxy_text);
  if (!proxy) {
    std::cerr << "pullthrough warm: --proxy: expected http://host:port, got '" << printable(proxy_text) << "'\n";
    return 2;
  }
  // Checked here too, so a typo is a usage error, not a proxy's 400.
  for (const auto& image : images) {
    const auto parsed = parse_image_reference(image);
    if (!parsed.reference) {
      std::cerr << "pullthrough warm: image '" << printable(image) << "': " << parsed.error << "\n";
      return 2;
    }
  }
  for (const auto& platform : platforms) {
    if (!ops::parse_platform(platform)) {
      std::cerr << "pullthrough warm: --platform '" << printable(platform)
                << "': expected os/architecture[/variant], like linux/amd64 or linux/arm/v7\n";
      return 2;
    }
  }
  try {
    return warm(*proxy, token, request_body(images, platforms), raw);
  } catch (const std::exception& e) {
    std::cerr << "pullthrough warm: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pt::app
