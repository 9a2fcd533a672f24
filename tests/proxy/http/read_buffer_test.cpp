#include "proxy/http/read_buffer.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

using pt::http::ReadBuffer;

namespace {

void put(ReadBuffer& buffer, std::string_view bytes) {
  auto room = buffer.prepare(bytes.size());
  REQUIRE(room.size() >= bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

}  // namespace

TEST_CASE("ReadBuffer keeps unread bytes across growth and compaction") {
  ReadBuffer buffer(8);
  CHECK(buffer.capacity() == 0);  // nothing allocated before the first read
  put(buffer, "hello ");
  CHECK(buffer.capacity() == 8);
  buffer.consume(2);
  put(buffer, "world, and more than fits");
  CHECK(buffer.data() == "llo world, and more than fits");
  buffer.consume(buffer.size());
  CHECK(buffer.empty());
  put(buffer, "again");
  CHECK(buffer.data() == "again");
}

TEST_CASE("ReadBuffer gives its storage up only when nothing is unread") {
  ReadBuffer buffer;
  put(buffer, "pipelined");
  buffer.release();
  CHECK(buffer.data() == "pipelined");
  CHECK(buffer.capacity() > 0);
  buffer.consume(buffer.size());
  buffer.release();
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.data().empty());
  put(buffer, "next");
  CHECK(buffer.data() == "next");
}
