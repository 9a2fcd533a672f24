#include "proxy/registry/revalidations.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <optional>

using namespace pt;
using namespace pt::registry;

namespace {

// Runs a waiter's turn on `io` and records what it was told.
void await_answer(asio::io_context& io, Revalidations::Turn turn, std::optional<cache::UpstreamAnswer>& out) {
  asio::co_spawn(
      io,
      [turn = std::move(turn), &out]() mutable -> asio::awaitable<void> { out = co_await turn.answer(); },
      [](std::exception_ptr error) { REQUIRE_FALSE(error); });
}

}  // namespace

TEST_CASE("revalidations: the first request leads, the others wait for its answer") {
  asio::io_context io;
  Revalidations revalidations;
  auto leader = revalidations.join("tag/r/app:1");
  REQUIRE(leader.leads());
  std::optional<cache::UpstreamAnswer> first, second;
  auto waiter = revalidations.join("tag/r/app:1");
  CHECK_FALSE(waiter.leads());
  await_answer(io, std::move(waiter), first);
  await_answer(io, revalidations.join("tag/r/app:1"), second);
  CHECK(revalidations.join("tag/r/other:1").leads());  // another tag: its own HEAD
  io.poll();
  CHECK_FALSE(first);

  leader.finish({.reachable = true, .status = 200, .docker_content_digest = "sha256:abc"});
  io.run();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(second->docker_content_digest == "sha256:abc");
  CHECK(revalidations.in_flight() == 0);
  CHECK(revalidations.join("tag/r/app:1").leads());  // answered: the next window asks again
}

TEST_CASE("revalidations: a leader that ends without answering leaves nobody waiting") {
  asio::io_context io;
  Revalidations revalidations;
  std::optional<cache::UpstreamAnswer> told;
  {
    auto leader = revalidations.join("tag/r/app:1");
    await_answer(io, revalidations.join("tag/r/app:1"), told);
    io.poll();
  }  // the leader's session is gone (cancelled, client left)
  io.run();
  REQUIRE(told);
  CHECK_FALSE(told->reachable);  // served stale, as when upstream fails
  CHECK(revalidations.in_flight() == 0);
}
