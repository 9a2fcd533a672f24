#include "proxy/registry/object_store.hpp"

#include "common/deadline.hpp"
#include "proxy/http/codec.hpp"
#include "proxy/http/message_io.hpp"
#include "proxy/net/upstream_connection.hpp"
#include "cluster/members.hpp"
#include "s3/hashing.hpp"
#include "s3/responses.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pt::registry {
namespace {

constexpr std::size_t max_control_body = 4 << 20;  // a listing page is ~300 KiB
constexpr auto io_timeout = std::chrono::seconds(60);
constexpr auto connect_timeout = std::chrono::seconds(10);

}  // namespace

std::string object_key(const cache::Digest& digest) { return fmt::format("blobs/sha256/{}", digest.hex()); }

std::string tag_object_key(std::string_view tag_key) { return "tags/" + s3::sha256_hex(tag_key); }

bool owns_object(const cluster::Members* members, std::string_view key) {
  if (!members) return true;
  const auto owners = members->candidates(fmt::format("sha256:{}", key.substr(key.rfind('/') + 1)));
  return owners.empty() || owners.front().self;
}

std::string describe(const S3Answer& answer) {
  if (!answer.ok) return answer.error;
  auto error = s3::parse_error(answer.body);
  return error ? fmt::format("{} {}", answer.status, error->describe()) : fmt::format("status {}", answer.status);
}

void ObjectStoreHealth::failed(std::string_view what, clock::time_point now) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  last_failure_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  std::uint64_t quiet = 0;
  {
    std::lock_guard lock(mutex_);
    if (last_log_ != clock::time_point{} && now - last_log_ < std::chrono::minutes(1)) {
      ++quiet_;
      return;
    }
    last_log_ = now;
    quiet = std::exchange(quiet_, 0);
  }
  spdlog::warn("BLOB_STORE: {}{}; pulls go on without the bucket (said at most once a minute)", what,
               quiet ? fmt::format(" ({} more failures since the last message)", quiet) : std::string());
}

void ObjectStoreHealth::served_corrupt(const cache::Digest& digest, clock::time_point now) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("BLOB_STORE: the bucket's copy of {} is corrupt; it is fetched upstream instead for an hour",
                digest.str());
  std::lock_guard lock(mutex_);
  if (corrupt_.size() >= 10000) corrupt_.clear();  // bounded: a flood of bad objects is a broken bucket
  corrupt_[digest.str()] = now + std::chrono::hours(1);
}

bool ObjectStoreHealth::known_corrupt(const cache::Digest& digest, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = corrupt_.find(digest.str());
  if (found == corrupt_.end()) return false;
  if (found->second > now) return true;
  corrupt_.erase(found);
  return false;
}

net::Transport ObjectStore::transport() const {
  return endpoint.tls() ? net::Transport::tls : net::Transport::cleartext;
}

std::string ObjectStore::connect_host() const {
  return endpoint.path_style ? endpoint.host : endpoint.bucket + "." + endpoint.host;
}

http::RequestHead signed_request(const ObjectStore& store, const s3::RequestSpec& spec) {
  http::RequestHead head;
  head.method = spec.method;
  head.target = spec.target();
  for (const auto& header : spec.headers) head.headers.add(header.name, header.value);
  for (const auto& header : s3::authorize(spec, store.endpoint, store.key, std::chrono::system_clock::now())) {
    head.headers.add(header.name, header.value);
  }
  if (!spec.body.empty() && !head.headers.contains("Content-Length")) {
    head.headers.set("Content-Length", std::to_string(spec.body.size()));
  }
  return head;
}

asio::awaitable<S3Answer> s3_request(net::UpstreamConnection& connection, const ObjectStore& store,
                                     const s3::RequestSpec& spec, Deadline& deadline, const StreamedBody* streamed) {
  const std::string host = store.connect_host();
  const std::string bytes = http::serialize(signed_request(store, spec)) + spec.body;
  for (int attempt = 0;; ++attempt) {
    const bool reused = connection.is_for(host, store.endpoint.port, store.transport()) && connection.requests() > 0;
    if (!connection.is_for(host, store.endpoint.port, store.transport())) {
      deadline.expires_after(connect_timeout + std::chrono::seconds(5));  // the timer below decides
      if (auto failure = co_await net::open_within(connection, host, store.endpoint.port, connect_timeout,
                                                   "the bucket's connect timeout", store.transport())) {
        co_return S3Answer{.unreachable = failure->unreachable, .error = failure->message};
      }
    }
    connection.count_request();
    deadline.expires_after(io_timeout);
    if (auto ec = co_await http::write_all(connection.stream(), bytes)) {
      connection.close();
      if (reused && attempt == 0) continue;  // a kept-alive connection the server had closed
      co_return S3Answer{.error = "write failed: " + ec.message()};
    }
    if (streamed) {
      if (auto ec = co_await (*streamed)(connection)) {
        connection.close();
        co_return S3Answer{.error = "body upload failed: " + ec.message()};
      }
    }
    http::Parser response(http::Parser::Kind::response, {.max_head_bytes = 64 * 1024});
    response.expect_response_to(spec.method);
    std::error_code ec;
    const auto status = co_await http::read_head(connection.stream(), connection.buffer(), response, ec);
    if (status != http::HeadStatus::ok) {
      connection.close();
      if (status == http::HeadStatus::closed && reused && attempt == 0) continue;
      co_return S3Answer{.error = status == http::HeadStatus::parse_error ? "bad response: " + response.error_text()
                                                                           : std::string("no response")};
    }
    S3Answer answer{.ok = true, .status = response.response().status, .headers = response.response().headers};
    bool too_large = false;
    auto body_ec = co_await http::read_body(connection.stream(), connection.buffer(), response, deadline, io_timeout,
                                            [&](std::string_view piece) -> asio::awaitable<std::error_code> {
                                              if (answer.body.size() + piece.size() > max_control_body) {
                                                too_large = true;
                                                co_return std::make_error_code(std::errc::message_size);
                                              }
                                              answer.body.append(piece);
                                              co_return std::error_code{};
                                            });
    if (body_ec) {
      connection.close();
      co_return S3Answer{.error = too_large ? std::string("response body too large") : "body read failed: " + body_ec.message()};
    }
    if (!response.response().keep_alive) connection.close();
    co_return answer;
  }
}

}  // namespace pt::registry
