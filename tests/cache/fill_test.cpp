#include "cache/fill_registry.hpp"

#include "cache/cache_error.hpp"
#include "temp_dir.hpp"
#include "test_content.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <limits>
#include <map>
#include <thread>

using namespace pt::cache;
using namespace pt::cache::test;
using namespace std::chrono_literals;

namespace {

struct ReaderResult {
  std::string bytes;
  std::error_code error;
  bool was_writer = false;
  bool got_response = false;
  std::atomic<bool> attached{false};  // set once registered with the fill (or refused)
};

// Attaches to the fill for `key` and reads it to the end (or `stop_after` bytes).
asio::awaitable<void> read_fill(FillRegistry& registry, std::string key, ReaderResult& result,
                                std::atomic<int>& done,
                                std::size_t stop_after = std::numeric_limits<std::size_t>::max()) {
  std::error_code ec;
  auto attachment = registry.find_or_start(key, ec);
  result.was_writer = attachment.writer.has_value();
  result.attached = true;
  if (result.was_writer || !attachment.fill) {
    ++done;
    co_return;
  }
  auto fill = attachment.fill;
  const auto response = co_await fill->wait_response(ec);
  result.got_response = response.has_value();
  std::vector<char> buffer(7001);  // an odd size, so reads straddle the writer's chunks
  while (!ec && response && result.bytes.size() < stop_after) {
    const auto n = co_await fill->read_some(result.bytes.size(), buffer, ec);
    if (n == 0) break;
    result.bytes.append(buffer.data(), n);
  }
  result.error = ec;
  ++done;
}

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Readers run on other threads: wait until they joined, however slow the machine is.
template <std::size_t N>
asio::awaitable<void> until_attached(const std::array<ReaderResult, N>& results) {
  for (const auto& result : results) {
    while (!result.attached) co_await pause(1ms);
  }
}

// One writer io_context and two reader io_contexts, each on its own thread.
struct Threads {
  asio::io_context writer_io, reader_io_a, reader_io_b;
  asio::executor_work_guard<asio::io_context::executor_type> guard_a =
      asio::make_work_guard(reader_io_a);
  asio::executor_work_guard<asio::io_context::executor_type> guard_b =
      asio::make_work_guard(reader_io_b);
  std::thread a{[this] { reader_io_a.run(); }};
  std::thread b{[this] { reader_io_b.run(); }};

  void run_writer_then_wait(std::atomic<int>& done, int readers) {
    writer_io.run();
    while (done.load() < readers) std::this_thread::sleep_for(1ms);
    guard_a.reset();
    guard_b.reset();
    a.join();
    b.join();
  }
};

constexpr std::size_t kChunk = 16 * 1024;

}  // namespace

TEST_CASE("Fill streams one download to many readers on other threads") {
  TempDir dir;
  BlobStore store(dir.path());
  FillRegistry registry(store);
  const std::string key = "blob/r/x";
  const auto content = make_content(2 * 1024 * 1024 + 123);
  const auto digest = digest_of(content);

  Threads threads;
  std::atomic<int> done{0};
  std::array<ReaderResult, 5> results;
  std::error_code writer_error, publish_error;
  bool second_writer_refused = false;

  asio::co_spawn(threads.writer_io, [&]() -> asio::awaitable<void> {
    std::error_code ec;
    auto attachment = registry.find_or_start(key, ec);
    auto& writer = *attachment.writer;
    // Two readers attach before the response is known, one of them gives up early.
    asio::co_spawn(threads.reader_io_a, read_fill(registry, key, results[0], done), asio::detached);
    asio::co_spawn(threads.reader_io_b, read_fill(registry, key, results[1], done, 100'000),
                   asio::detached);
    while (!results[0].attached || !results[1].attached) co_await pause(1ms);
    writer.publish_response({.media_type = "application/octet-stream",
                             .headers = {},
                             .content_length = content.size(),
                             .expected_digest = digest});
    for (std::size_t offset = 0; offset < content.size(); offset += kChunk) {
      writer_error = writer.append(std::string_view(content).substr(offset, kChunk));
      if (writer_error) co_return;
      if (offset == 64 * kChunk) {  // half-way: a late reader starts from the beginning
        asio::co_spawn(threads.reader_io_b, read_fill(registry, key, results[2], done),
                       asio::detached);
      }
      if ((offset / kChunk) % 8 == 0) co_await pause(1ms);
    }
    asio::co_spawn(threads.reader_io_a, read_fill(registry, key, results[3], done),
                   asio::detached);
    co_await pause(5ms);
    writer_error = writer.finish();
    // A reader attaching after the download finished but before it is committed still joins.
    asio::co_spawn(threads.reader_io_a, read_fill(registry, key, results[4], done),
                   asio::detached);
    co_await until_attached(results);
    second_writer_refused = !registry.find_or_start(key, ec).writer.has_value();
    publish_error = writer.sync();
    if (!publish_error) publish_error = writer.publish();
    writer.settle();
  }, asio::detached);
  threads.run_writer_then_wait(done, 5);

  CHECK_FALSE(writer_error);
  CHECK_FALSE(publish_error);
  CHECK(second_writer_refused);
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO("reader " << i);
    CHECK_FALSE(results[i].was_writer);
    CHECK(results[i].got_response);
    CHECK_FALSE(results[i].error);
    if (i == 1) {
      CHECK(results[i].bytes.size() >= 100'000);
      CHECK(results[i].bytes == content.substr(0, results[i].bytes.size()));
    } else {
      CHECK(results[i].bytes.size() == content.size());
      CHECK(results[i].bytes == content);
    }
  }
  CHECK(store.contains(digest));
  CHECK(registry.active_fills() == 0);
}

TEST_CASE("A failed fill reports the error to its readers and stores nothing") {
  TempDir dir;
  BlobStore store(dir.path());
  FillRegistry registry(store);
  const std::string key = "blob/r/y";
  const auto content = make_content(512 * 1024);
  const auto digest = digest_of(content);

  // How the download goes wrong, and the error readers must see.
  enum class Failure { wrong_digest, truncated, upstream_error, abandoned, before_response };
  const auto failure = GENERATE(Failure::wrong_digest, Failure::truncated, Failure::upstream_error,
                                Failure::abandoned, Failure::before_response);
  CAPTURE(static_cast<int>(failure));

  Threads threads;
  std::atomic<int> done{0};
  std::array<ReaderResult, 2> results;

  asio::co_spawn(threads.writer_io, [&]() -> asio::awaitable<void> {
    std::error_code ec;
    std::optional<FillWriter> writer = std::move(registry.find_or_start(key, ec).writer);
    asio::co_spawn(threads.reader_io_a, read_fill(registry, key, results[0], done), asio::detached);
    asio::co_spawn(threads.reader_io_b, read_fill(registry, key, results[1], done), asio::detached);
    co_await until_attached(results);
    if (failure == Failure::before_response) {
      writer->fail(make_error_code(CacheErrc::not_cacheable));
      co_return;
    }
    const auto expected = failure == Failure::wrong_digest ? digest_of("something else") : digest;
    writer->publish_response({.content_length = content.size(), .expected_digest = expected});
    const auto sent = failure == Failure::wrong_digest ? content.size() : content.size() / 2;
    for (std::size_t offset = 0; offset < sent; offset += kChunk) {
      writer->append(std::string_view(content).substr(offset, std::min(kChunk, sent - offset)));
      co_await pause(1ms);
    }
    switch (failure) {
      case Failure::wrong_digest:
      case Failure::truncated: writer->finish(); break;
      case Failure::upstream_error: writer->fail(make_error_code(CacheErrc::fill_failed)); break;
      default: writer.reset(); break;  // abandoned: the writer's coroutine went away
    }
  }, asio::detached);
  threads.run_writer_then_wait(done, 2);

  const std::map<Failure, CacheErrc> expected_errors = {
      {Failure::wrong_digest, CacheErrc::digest_mismatch},
      {Failure::truncated, CacheErrc::size_mismatch},
      {Failure::upstream_error, CacheErrc::fill_failed},
      {Failure::abandoned, CacheErrc::fill_abandoned},
      {Failure::before_response, CacheErrc::not_cacheable},
  };
  for (const auto& result : results) {
    CHECK(result.error == make_error_code(expected_errors.at(failure)));
    CHECK(result.bytes.size() <= content.size());
  }
  CHECK_FALSE(store.contains(digest));
  CHECK(std::filesystem::is_empty(dir.path() / "tmp"));
  // The dead fill left the registry: the next client starts afresh.
  CHECK(registry.active_fills() == 0);
  std::error_code ec;
  CHECK(registry.find_or_start(key, ec).writer.has_value());
}

TEST_CASE("A reader's cancellation ends its wait without touching the fill") {
  TempDir dir;
  BlobStore store(dir.path());
  FillRegistry registry(store);
  std::error_code ec;
  auto attachment = registry.find_or_start("k", ec);
  attachment.writer->publish_response({});

  asio::io_context io;
  std::error_code read_error;
  asio::cancellation_signal cancel;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::array<char, 16> buffer{};
    co_await attachment.fill->read_some(0, buffer, read_error);
  }, asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  io.run_for(10ms);
  cancel.emit(asio::cancellation_type::terminal);
  io.run_for(50ms);
  CHECK(read_error == asio::error::operation_aborted);
  CHECK(attachment.fill->state() == Fill::State::streaming);
  CHECK_FALSE(attachment.writer->append(std::string_view("still fine")));
}
