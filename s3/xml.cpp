#include "s3/xml.hpp"

#include <optional>

namespace pt::s3 {

namespace {

using R = ParseResult<XmlElement>;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_name_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':' || u >= 0x80;
}

std::string_view local_name(std::string_view name) {
  const auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<std::uint32_t> character_reference(std::string_view ref) {  // "#65" or "#x41"
  if (ref.size() < 2 || ref[0] != '#') return std::nullopt;
  const bool hex = ref[1] == 'x';
  const auto digits = ref.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > (hex ? 6u : 7u)) return std::nullopt;
  std::uint32_t cp = 0;
  for (const char c : digits) {
    std::uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      d = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      d = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    cp = cp * (hex ? 16 : 10) + d;
  }
  if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return std::nullopt;
  return cp;
}

// Where the next `what` starts at or after `from`, or npos.
std::size_t find(std::string_view doc, std::string_view what, std::size_t from) { return doc.find(what, from); }

// Skips blanks and comments (between the declaration, the root and the end). False on a comment
// that does not end.
bool skip_misc(std::string_view doc, std::size_t& pos) {
  while (pos < doc.size()) {
    if (is_blank(doc[pos])) {
      ++pos;
    } else if (doc.substr(pos).starts_with("<!--")) {
      const auto end = find(doc, "-->", pos + 4);
      if (end == std::string_view::npos) return false;
      pos = end + 3;
    } else {
      break;
    }
  }
  return true;
}

}  // namespace

const XmlElement* XmlElement::child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::string_view XmlElement::child_text(std::string_view child_name) const {
  const auto* c = child(child_name);
  return c ? std::string_view(c->text) : std::string_view();
}

std::vector<const XmlElement*> XmlElement::children_named(std::string_view child_name) const {
  std::vector<const XmlElement*> out;
  for (const auto& c : children) {
    if (c.name == child_name) out.push_back(&c);
  }
  return out;
}

std::optional<std::string> decode_xml_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto amp = text.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, amp - pos));
    const auto semi = text.find(';', amp + 1);
    if (semi == std::string_view::npos || semi - amp > 12) return std::nullopt;
    const auto ref = text.substr(amp + 1, semi - amp - 1);
    if (ref == "amp") {
      out.push_back('&');
    } else if (ref == "lt") {
      out.push_back('<');
    } else if (ref == "gt") {
      out.push_back('>');
    } else if (ref == "quot") {
      out.push_back('"');
    } else if (ref == "apos") {
      out.push_back('\'');
    } else if (const auto cp = character_reference(ref)) {
      append_utf8(out, *cp);
    } else {
      return std::nullopt;
    }
    pos = semi + 1;
  }
  return out;
}

ParseResult<XmlElement> parse_xml(std::string_view doc) {
  std::size_t pos = 0;
  if (doc.starts_with("\xEF\xBB\xBF")) pos = 3;  // a UTF-8 byte order mark
  if (!skip_misc(doc, pos)) return R::failure("an unterminated comment");
  if (doc.substr(pos).starts_with("<?xml")) {
    const auto end = find(doc, "?>", pos + 5);
    if (end == std::string_view::npos) return R::failure("an unterminated XML declaration");
    pos = end + 2;
  }
  if (!skip_misc(doc, pos)) return R::failure("an unterminated comment");
  if (pos >= doc.size()) return R::failure("no root element");

  std::vector<XmlElement> stack;
  std::vector<std::string_view> open_names;  // qualified, for matching end tags
  std::optional<XmlElement> root;

  while (!root) {
    if (pos >= doc.size()) return R::failure("the document ends inside an element");
    if (doc[pos] != '<') {
      if (stack.empty()) return R::failure("text outside the root element");
      const auto lt = doc.find('<', pos);
      if (lt == std::string_view::npos) return R::failure("the document ends inside an element");
      auto text = decode_xml_entities(doc.substr(pos, lt - pos));
      if (!text) return R::failure("a bad entity or character reference");
      stack.back().text += *text;
      pos = lt;
      continue;
    }
    const auto rest = doc.substr(pos);
    if (rest.starts_with("<!--")) {
      const auto end = find(doc, "-->", pos + 4);
      if (end == std::string_view::npos) return R::failure("an unterminated comment");
      pos = end + 3;
      continue;
    }
    if (rest.starts_with("<![CDATA[")) {
      if (stack.empty()) return R::failure("CDATA outside the root element");
      const auto end = find(doc, "]]>", pos + 9);
      if (end == std::string_view::npos) return R::failure("an unterminated CDATA section");
      stack.back().text.append(doc.substr(pos + 9, end - pos - 9));
      pos = end + 3;
      continue;
    }
    if (rest.starts_with("<!")) return R::failure("a DTD or declaration (refused)");
    if (rest.starts_with("<?")) return R::failure("a processing instruction (refused)");

    if (rest.starts_with("</")) {
      std::size_t at = pos + 2;
      const std::size_t start = at;
      while (at < doc.size() && is_name_char(doc[at])) ++at;
      const auto name = doc.substr(start, at - start);
      while (at < doc.size() && is_blank(doc[at])) ++at;
      if (at >= doc.size() || doc[at] != '>') return R::failure("a malformed end tag");
      if (stack.empty() || name != open_names.back()) return R::failure("an end tag that does not match");
      pos = at + 1;
      auto done = std::move(stack.back());
      stack.pop_back();
      open_names.pop_back();
      if (stack.empty()) {
        root = std::move(done);
      } else {
        stack.back().children.push_back(std::move(done));
      }
      continue;
    }

    // A start tag: <name attr="value" ...> or <name .../>
    std::size_t at = pos + 1;
    const std::size_t start = at;
    while (at < doc.size() && is_name_char(doc[at])) ++at;
    const auto name = doc.substr(start, at - start);
    if (local_name(name).empty()) return R::failure("a malformed start tag");
    bool empty_element = false;
    while (true) {
      while (at < doc.size() && is_blank(doc[at])) ++at;
      if (at >= doc.size()) return R::failure("the document ends inside a tag");
      if (doc[at] == '>') {
        ++at;
        break;
      }
      if (doc.substr(at).starts_with("/>")) {
        at += 2;
        empty_element = true;
        break;
      }
      // An attribute, skipped: name = "value" | 'value'
      const std::size_t attr = at;
      while (at < doc.size() && is_name_char(doc[at])) ++at;
      if (at == attr) return R::failure("a malformed attribute");
      while (at < doc.size() && is_blank(doc[at])) ++at;
      if (at >= doc.size() || doc[at] != '=') return R::failure("a malformed attribute");
      ++at;
      while (at < doc.size() && is_blank(doc[at])) ++at;
      if (at >= doc.size() || (doc[at] != '"' && doc[at] != '\'')) return R::failure("a malformed attribute");
      const auto close = doc.find(doc[at], at + 1);
      if (close == std::string_view::npos) return R::failure("the document ends inside an attribute");
      if (doc.substr(at + 1, close - at - 1).find('<') != std::string_view::npos) {
        return R::failure("a '<' in an attribute value");
      }
      at = close + 1;
    }
    pos = at;
    XmlElement element;
    element.name = std::string(local_name(name));
    if (empty_element) {
      if (stack.empty()) {
        root = std::move(element);
      } else {
        stack.back().children.push_back(std::move(element));
      }
      continue;
    }
    if (stack.size() >= kMaxXmlDepth) return R::failure("elements nested too deep");
    stack.push_back(std::move(element));
    open_names.push_back(name);
  }

  if (!skip_misc(doc, pos)) return R::failure("an unterminated comment");
  if (pos != doc.size()) return R::failure("content after the root element");
  return R::success(std::move(*root));
}

}  // namespace pt::s3
