#include "cache/entry_memo.hpp"

#include "test_content.hpp"

#include <catch2/catch.hpp>

using namespace pt::cache;
using namespace std::chrono_literals;

namespace {

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'700'000'000));

IndexEntry entry(std::string key, std::uint64_t size = 1) {
  return IndexEntry{.key = std::move(key), .digest = test::digest_of("x"), .size = size, .created = kT0, .last_access = kT0};
}

}  // namespace

TEST_CASE("EntryMemo keeps the most recently used entries up to its capacity") {
  EntryMemo memo(2);
  memo.remember(entry("a"), memo.generation());
  memo.remember(entry("b"), memo.generation());
  CHECK(memo.find("a"));  // "a" is now the most recently used
  memo.remember(entry("c"), memo.generation());
  CHECK(memo.size() == 2);
  CHECK(memo.find("a"));
  CHECK_FALSE(memo.find("b"));
  CHECK(memo.find("c"));

  memo.remember(entry("c", 7), memo.generation());  // replaces, does not grow
  CHECK(memo.size() == 2);
  CHECK(memo.find("c")->size == 7);
}

TEST_CASE("EntryMemo refuses what was read while a writer changed the index") {
  EntryMemo memo(8);
  const auto before_read = memo.generation();
  memo.forget("a");  // a writer replaced "a" while the reader was reading the old value
  memo.remember(entry("a"), before_read);
  CHECK_FALSE(memo.find("a"));

  memo.remember(entry("a"), memo.generation());
  REQUIRE(memo.find("a"));
  memo.forget("a");
  CHECK_FALSE(memo.find("a"));

  memo.remember(entry("b"), memo.generation());
  memo.forget_all();
  CHECK(memo.size() == 0);
}

TEST_CASE("EntryMemo only moves an access time forward") {
  EntryMemo memo(8);
  memo.remember(entry("a"), memo.generation());
  memo.note_access("a", kT0 + 10s);
  memo.note_access("a", kT0 + 5s);
  CHECK(memo.find("a")->last_access == kT0 + 10s);
  memo.note_access("missing", kT0);  // nothing to update
  CHECK(memo.size() == 1);
}

TEST_CASE("EntryMemo with no capacity remembers nothing") {
  EntryMemo memo(0);
  memo.remember(entry("a"), memo.generation());
  CHECK_FALSE(memo.find("a"));
}
