#pragma once
// A small XML reader for S3's answers, which are tiny, flat documents of elements and text
// (ListBucketResult, Error, InitiateMultipartUploadResult, ...). Written by hand rather than with
// expat or libxml2 because those few shapes need none of XML's harder parts, and a parser of our own
// can refuse them outright: no DTD (so no entity expansion, external or "billion laughs"), no
// processing instructions beyond the <?xml ...?> declaration, no namespaces beyond ignoring a
// "prefix:" on element names. What it reads: elements, attributes (skipped), text, the five
// predefined entities and character references, CDATA sections, comments.
//
// The input is a server's and may be anything: parse_xml never throws on it and never recurses;
// its size is the caller's bound (the HTTP client caps the body), its depth ours (kMaxXmlDepth).
#include "common/parse_result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pt::s3 {

inline constexpr std::size_t kMaxXmlDepth = 32;

struct XmlElement {
  std::string name;  // local name: "s3:Key" and "Key" are both "Key"
  std::string text;  // the character data directly inside, entities decoded, not trimmed
  std::vector<XmlElement> children;

  // The first child of that name, or nullptr.
  const XmlElement* child(std::string_view child_name) const;
  // The text of the first child of that name, or "" when there is none.
  std::string_view child_text(std::string_view child_name) const;
  std::vector<const XmlElement*> children_named(std::string_view child_name) const;
};

// The document's root element, or why the text is not a document we read.
ParseResult<XmlElement> parse_xml(std::string_view document);

// Decodes &amp; &lt; &gt; &quot; &apos; &#NN; &#xHH; (as UTF-8); nullopt for anything else (an
// unknown entity, a reference to NUL, a surrogate or past U+10FFFF, an '&' without ';').
std::optional<std::string> decode_xml_entities(std::string_view text);

}  // namespace pt::s3
