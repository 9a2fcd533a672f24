#include "s3/xml.hpp"

#include <catch2/catch.hpp>

#include <string>

using pt::s3::decode_xml_entities;
using pt::s3::parse_xml;

TEST_CASE("the XML reader reads elements, text and entities", "[s3][xml]") {
  const auto doc = parse_xml(
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment -->\n"
      "<s3:Root xmlns:s3='http://s3.amazonaws.com/doc/2006-03-01/' a = \"x>y\">\n"
      "  <Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;&#x20AC;</Key>\n"
      "  <Empty/><Empty2 attr='1' />\n"
      "  <Data><![CDATA[<raw> & stuff]]></Data><!-- inside -->\n"
      "  <Key>second</Key>\n"
      "</s3:Root>\n<!-- trailing -->\n");
  REQUIRE(doc);
  CHECK(doc->name == "Root");
  CHECK(doc->child_text("Key") == "a&b <c> \"d\" 'e' AB\xE2\x82\xAC");
  CHECK(doc->child("Empty") != nullptr);
  CHECK(doc->child_text("Empty").empty());
  CHECK(doc->child("Empty2") != nullptr);
  CHECK(doc->child_text("Data") == "<raw> & stuff");
  CHECK(doc->children_named("Key").size() == 2);
  CHECK(doc->child("Missing") == nullptr);
  CHECK(doc->child_text("Missing").empty());
}

TEST_CASE("entity decoding", "[s3][xml]") {
  CHECK(decode_xml_entities("plain") == "plain");
  CHECK(decode_xml_entities("&amp;amp;") == "&amp;");
  CHECK(decode_xml_entities("&#x1F600;") == "\xF0\x9F\x98\x80");
  CHECK_FALSE(decode_xml_entities("&nbsp;"));
  CHECK_FALSE(decode_xml_entities("a & b"));
  CHECK_FALSE(decode_xml_entities("&#0;"));
  CHECK_FALSE(decode_xml_entities("&#xD800;"));
  CHECK_FALSE(decode_xml_entities("&#x110000;"));
  CHECK_FALSE(decode_xml_entities("&#xZZ;"));
  CHECK_FALSE(decode_xml_entities("&#;"));
  CHECK_FALSE(decode_xml_entities("&amp"));
}

TEST_CASE("the XML reader refuses what it does not read", "[s3][xml]") {
  for (const char* bad : {
           "",
           "   ",
           "text",
           "<a>",
           "<a></b>",
           "<a><b></a></b>",
           "<a>&unknown;</a>",
           "<a></a><b></b>",
           "<a></a>trailing",
           "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
           "<a><!DOCTYPE x></a>",
           "<a><?pi x?></a>",
           "<a x=1></a>",
           "<a x=\"1></a>",
           "<a x=\"<\"></a>",
           "<a><!-- unterminated</a>",
           "<a><![CDATA[ unterminated</a>",
           "< a></a>",
           "<a",
           "<?xml version='1.0'",
       }) {
    INFO(bad);
    CHECK_FALSE(parse_xml(bad));
  }
}

TEST_CASE("the XML reader bounds nesting without recursing", "[s3][xml]") {
  std::string deep;
  for (int i = 0; i < 32; ++i) deep += "<a>";
  for (int i = 0; i < 32; ++i) deep += "</a>";
  CHECK(parse_xml(deep));
  const std::string too_deep = "<a>" + deep + "</a>";
  CHECK_FALSE(parse_xml(too_deep));
  std::string huge;
  for (int i = 0; i < 100000; ++i) huge += "<a>";
  CHECK_FALSE(parse_xml(huge));
}
