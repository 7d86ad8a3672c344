// SPDX-License-Identifier: MIT
#include "tests/xep/xep_document.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

namespace rpsync::xeptest {
namespace {

xmlDocPtr as_doc(void* p) { return static_cast<xmlDocPtr>(p); }

bool is_element(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE &&
         xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

std::string content(const xmlNode* n) {
  xmlChar* c = xmlNodeGetContent(n);
  std::string out = c ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return out;
}

std::string attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string out = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return out;
}

// Depth-first walk in document order.
template <class F>
void walk(const xmlNode* n, F&& f) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    f(n);
    walk(n->children, f);
  }
}

}  // namespace

XepDocument::XepDocument(const std::string& path) {
  // NOENT + DTDLOAD expand the entities of xep.ent; NONET keeps the test off the network.
  xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr,
                              XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_NONET);
  if (!doc) {
    const xmlError* e = xmlGetLastError();
    error_ = "cannot parse " + path + ": " + (e && e->message ? e->message : "unknown error");
    return;
  }
  doc_ = doc;
}

XepDocument::~XepDocument() {
  if (doc_) xmlFreeDoc(as_doc(doc_));
}

std::vector<Example> XepDocument::examples() const {
  std::vector<Example> out;
  if (!doc_) return out;
  walk(xmlDocGetRootElement(as_doc(doc_)), [&](const xmlNode* n) {
    if (is_element(n, "example"))
      out.push_back({static_cast<int>(out.size()) + 1, attr(n, "caption"), content(n)});
  });
  return out;
}

std::optional<Example> XepDocument::example(const std::string& caption) const {
  for (auto& e : examples())
    if (e.caption == caption) return e;
  return std::nullopt;
}

std::optional<Table> XepDocument::table(const std::string& caption) const {
  std::optional<Table> out;
  if (!doc_) return out;
  walk(xmlDocGetRootElement(as_doc(doc_)), [&](const xmlNode* n) {
    if (out || !is_element(n, "table") || attr(n, "caption") != caption) return;
    out.emplace();
    for (const xmlNode* tr = n->children; tr; tr = tr->next) {
      if (!is_element(tr, "tr")) continue;
      std::vector<std::string> row;
      for (const xmlNode* td = tr->children; td; td = td->next)
        if (is_element(td, "td")) row.push_back(trim(content(td)));
      if (!row.empty()) out->push_back(std::move(row));
    }
  });
  return out;
}

std::vector<std::string> XepDocument::code_in_section(const std::string& anchor) const {
  std::vector<std::string> out;
  if (!doc_) return out;
  walk(xmlDocGetRootElement(as_doc(doc_)), [&](const xmlNode* n) {
    if (!is_element(n, "section1") && !is_element(n, "section2")) return;
    if (attr(n, "anchor") != anchor) return;
    for (const xmlNode* c = n->children; c; c = c->next)
      if (is_element(c, "code")) out.push_back(content(c));
  });
  return out;
}

std::string wrap_in_client_stream(const std::string& example_text) {
  return "<root xmlns='jabber:client'>" + example_text + "</root>";
}

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string xep_path() { return RPSYNC_XEP_PATH; }

}  // namespace rpsync::xeptest
