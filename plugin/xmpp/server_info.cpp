// SPDX-License-Identifier: MIT
#include "plugin/xmpp/server_info.h"

#include <algorithm>
#include <cctype>

#include "protocol/ns.h"

namespace rpsync::xmpp {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

xml::Element disco_info_request(std::string_view from, std::string_view domain) {
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.set_attr("type", "get");
  iq.set_attr("from", std::string(from));
  iq.set_attr("to", std::string(domain));
  iq.add(xml::Element("query", std::string(ns::kDiscoInfo)));
  return iq;
}

DiscoInfo parse_disco_info(const xml::Element& iq_result) {
  DiscoInfo info;
  const xml::Element* q = iq_result.child("query", ns::kDiscoInfo);
  if (!q) return info;
  for (const auto& c : q->children()) {
    if (c.ns() != ns::kDiscoInfo) continue;
    if (c.name() == "feature") {
      if (auto v = c.attr("var")) info.features.emplace(*v);
    } else if (c.name() == "identity") {
      info.identities.push_back({std::string(c.attr("category").value_or("")),
                                 std::string(c.attr("type").value_or("")),
                                 std::string(c.attr("name").value_or(""))});
    }
  }
  return info;
}

std::string_view to_string(Software s) {
  switch (s) {
    case Software::kProsody:
      return "prosody";
    case Software::kEjabberd:
      return "ejabberd";
    case Software::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<Software> software_from(std::string_view name) {
  if (name == to_string(Software::kProsody)) return Software::kProsody;
  if (name == to_string(Software::kEjabberd)) return Software::kEjabberd;
  return std::nullopt;
}

Software detect_software(const DiscoInfo& info, std::string_view privilege_ns) {
  for (const auto& id : info.identities) {
    if (id.category != "server") continue;
    const std::string name = lower(id.name);
    if (name.find("prosody") != std::string::npos) return Software::kProsody;
    if (name.find("ejabberd") != std::string::npos) return Software::kEjabberd;
  }
  if (privilege_ns == "urn:xmpp:privilege:1") return Software::kEjabberd;
  if (privilege_ns == "urn:xmpp:privilege:2") return Software::kProsody;
  return Software::kUnknown;
}

}  // namespace rpsync::xmpp
