#include "common/snapshot.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

using pt::Snapshot;

TEST_CASE("Snapshot: a reader keeps the version it took; replace() serves later readers") {
  Snapshot<std::string> setting(std::make_shared<const std::string>("old"));
  const auto held = setting.get();
  setting.replace(std::make_shared<const std::string>("new"));
  CHECK(*held == "old");
  CHECK(*setting.get() == "new");
}

TEST_CASE("Snapshot: a copy shares the version; assigning one replaces it") {
  Snapshot<std::string> a(std::make_shared<const std::string>("a"));
  Snapshot<std::string> b = a;
  CHECK(a.get() == b.get());
  Snapshot<std::string> c(std::make_shared<const std::string>("c"));
  b = c;
  CHECK(*b.get() == "c");
  CHECK(*a.get() == "a");
  CHECK(Snapshot<std::vector<int>>().get()->empty());  // default: an empty value, never null
}

TEST_CASE("Snapshot: readers and a replacing thread never see a torn value") {
  Snapshot<std::vector<int>> setting(std::make_shared<const std::vector<int>>(100, 0));
  std::thread writer([&] {
    for (int i = 1; i <= 2000; ++i) setting.replace(std::make_shared<const std::vector<int>>(100, i));
  });
  bool consistent = true;
  for (int n = 0; n < 2000; ++n) {
    const auto value = setting.get();
    for (int x : *value) consistent = consistent && x == value->front();
  }
  writer.join();
  CHECK(consistent);
  CHECK(setting.get()->front() == 2000);
}
