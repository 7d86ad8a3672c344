// SPDX-License-Identifier: MIT
#include "client_ext/tag_convert.h"

#include <gloox/tag.h>

#include <string>

namespace rpsync::client {
namespace {

void copy_into(const gloox::Tag& tag, xml::Element& out) {
  for (const gloox::Tag::Attribute* a : tag.attributes()) {
    const std::string& name = a->name();
    const std::string& prefix = a->prefix();
    if (name == "xmlns" || prefix == "xmlns" || name.starts_with("xmlns:")) continue;
    if (prefix == "xml") {
      out.set_attr(xml::kXmlNs, name, a->value());
    } else if (name.starts_with("xml:")) {
      out.set_attr(xml::kXmlNs, name.substr(4), a->value());
    } else if (!prefix.empty()) {
      out.set_attr(a->xmlns(), name, a->value());
    } else {
      out.set_attr(name, a->value());
    }
  }
  out.set_text(tag.cdata());
  for (const gloox::Tag* child : tag.children()) {
    // gloox resolves prefixes in xmlns() but does not inherit a parent's default
    // namespace, so inheritance is done here.
    std::string ns = child->xmlns();
    if (ns.empty() && child->prefix().empty()) ns = out.ns();
    xml::Element& c = out.add(xml::Element(child->name(), std::move(ns)));
    copy_into(*child, c);
  }
}

void copy_into(const xml::Element& e, gloox::Tag& out, const std::string& parent_ns) {
  if (e.ns() != parent_ns) out.setXmlns(e.ns());
  for (const xml::Attribute& a : e.attrs()) {
    if (a.ns.empty()) {
      out.addAttribute(a.name, a.value);
    } else if (a.ns == xml::kXmlNs) {
      out.addAttribute("xml:" + a.name, a.value);
    }
    // Other namespaced attributes do not occur in rpsync payloads; gloox would need a
    // prefix declaration for them, so they are dropped rather than written wrongly.
  }
  if (!e.text().empty()) out.setCData(e.text());
  for (const xml::Element& child : e.children()) {
    auto* c = new gloox::Tag(&out, child.name());  // owned by `out`
    copy_into(child, *c, e.ns());
  }
}

}  // namespace

xml::Element to_element(const gloox::Tag& tag) {
  xml::Element out(tag.name(), tag.xmlns());
  copy_into(tag, out);
  return out;
}

std::unique_ptr<gloox::Tag> to_tag(const xml::Element& e) {
  auto tag = std::make_unique<gloox::Tag>(e.name());
  copy_into(e, *tag, std::string());
  return tag;
}

}  // namespace rpsync::client
