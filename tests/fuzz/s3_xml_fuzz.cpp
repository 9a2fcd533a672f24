// Fuzzes the XML reader of S3's answers (s3/xml.cpp) and the answer parsers on top of it
// (s3/responses.cpp): the body is whatever a server, or something posing as one, sent. Invariants:
// nothing throws or crashes; a document that parses, written back out (text escaped, children
// after the text), parses to the same tree; entity decoding of what we escape gives the text back;
// the listing parsers never return a truncated page without the marker to continue from.
#include "s3/responses.hpp"
#include "s3/xml.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace {

using pt::s3::XmlElement;

std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void write(const XmlElement& e, std::string& out) {
  out += "<" + e.name + ">" + escape(e.text);
  for (const auto& c : e.children) write(c, out);
  out += "</" + e.name + ">";
}

bool same(const XmlElement& a, const XmlElement& b) {
  if (a.name != b.name || a.text != b.text || a.children.size() != b.children.size()) return false;
  for (std::size_t i = 0; i < a.children.size(); ++i) {
    if (!same(a.children[i], b.children[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  using pt::fuzz::escaped;

  const auto doc = pt::s3::parse_xml(input);
  if (doc) {
    FUZZ_CHECK(!doc->name.empty());
    std::string text;
    write(*doc, text);
    const auto again = pt::s3::parse_xml(text);
    FUZZ_CHECK_MSG(again.value.has_value(), escaped(text) + ": " + again.error);
    FUZZ_CHECK_MSG(same(*doc, *again), escaped(text));
  } else {
    FUZZ_CHECK(!doc.error.empty());
  }

  if (const auto decoded = pt::s3::decode_xml_entities(input)) {
    FUZZ_CHECK(pt::s3::decode_xml_entities(escape(*decoded)) == *decoded);
  }

  const auto error = pt::s3::parse_error(input);
  if (error) FUZZ_CHECK(!error->code.empty());
  (void)pt::s3::parse_initiate_multipart_upload(input);
  (void)pt::s3::parse_complete_multipart_upload(input);
  if (const auto objects = pt::s3::parse_list_objects_v2(input)) {
    FUZZ_CHECK(!objects->is_truncated || !objects->next_continuation_token.empty());
    for (const auto& o : objects->objects) FUZZ_CHECK(!o.key.empty());
  }
  if (const auto uploads = pt::s3::parse_list_multipart_uploads(input)) {
    FUZZ_CHECK(!uploads->is_truncated || !uploads->next_key_marker.empty());
  }
  return 0;
}
