#include "common/ascii.hpp"

#include <catch2/catch.hpp>

using namespace pt;
using Items = std::vector<std::string_view>;

TEST_CASE("ASCII case folding leaves other bytes alone") {
  CHECK(to_lower("Quay.IO") == "quay.io");
  CHECK(to_lower("\xC3\x89t\xC3\xA9") == "\xC3\x89t\xC3\xA9");
  CHECK(iequals("Docker.IO", "docker.io"));
  CHECK_FALSE(iequals("docker.io", "docker.iox"));
  CHECK(istarts_with("HTTPS://quay.io", "https://"));
  CHECK_FALSE(istarts_with("http", "https://"));
}

TEST_CASE("trim drops surrounding whitespace only") {
  CHECK(trim("  a b \r\n") == "a b");
  CHECK(trim(" \t ").empty());
  CHECK(trim("").empty());
}

TEST_CASE("lists split on runs of whitespace and commas") {
  CHECK(split_list("a b,c\nd\t e,,f") == Items{"a", "b", "c", "d", "e", "f"});
  CHECK(split_list(" , \n ").empty());
  CHECK(split_list("").empty());
}

TEST_CASE("exact splitting keeps empty pieces") {
  CHECK(split_exact("a;;;b;;;;;;c", ";;;") == Items{"a", "b", "", "c"});
  CHECK(split_exact("abc", ";;;") == Items{"abc"});
  CHECK(split_exact("", ":") == Items{""});
  CHECK(split_exact("a:", ":") == Items{"a", ""});
}

TEST_CASE("printable keeps log lines intact") {
  CHECK(printable("ok text") == "ok text");
  CHECK(printable("line\nbreak\x1b[31m") == "line?break?[31m");
  CHECK(printable("abcdef", 3) == "abc...");
}

TEST_CASE("split_words splits on whitespace only") {
  using V = std::vector<std::string_view>;
  CHECK(pt::split_words("  a=b,c\n\td  e ") == V{"a=b,c", "d", "e"});
  CHECK(pt::split_words("").empty());
  CHECK(pt::split_words(" \n ").empty());
  CHECK(pt::split_list("a=b,c d") == V{"a=b", "c", "d"});
}
