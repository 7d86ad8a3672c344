// SPDX-License-Identifier: MIT
#include "bench/reconnect/stanza_kinds.h"

#include <set>

#include "bench/common/figures.h"

namespace rpsync::bench {

namespace {

constexpr const char* kRpsyncNs = "urn:xmpp:rpsync:0";

std::string iq_kind(const gloox::Tag& tag) {
  const gloox::Tag* child = tag.children().empty() ? nullptr : tag.children().front();
  const std::string type = tag.findAttribute("type");
  if (child == nullptr) return "iq " + type + " (empty)";
  const std::string xmlns = child->xmlns();
  if (xmlns == kRpsyncNs) return "iq rpsync <" + child->name() + "/>";
  if (xmlns == "urn:ietf:params:xml:ns:xmpp-bind") return "iq bind";
  if (xmlns == "urn:ietf:params:xml:ns:xmpp-session") return "iq session (legacy)";
  if (xmlns == "jabber:iq:roster") return "iq roster " + type;
  if (xmlns == "http://jabber.org/protocol/disco#info") return "iq disco#info";
  if (xmlns == "http://jabber.org/protocol/disco#items") return "iq disco#items";
  if (xmlns == "urn:xmpp:ping") return "iq ping";
  if (child->name() == "error") return "iq error";
  return "iq " + type + " " + xmlns;
}

std::string message_kind(const gloox::Tag& tag) {
  const gloox::Tag* child = tag.children().empty() ? nullptr : tag.children().front();
  if (child == nullptr) return "message (empty)";
  if (child->name() == "privilege")
    return child->children().empty() ? "message <privilege/> (empty)" : "message <privilege/>";
  return "message " + child->xmlns();
}

}  // namespace

std::string stanza_kind(const gloox::Tag& tag, const std::string& self) {
  const std::string& name = tag.name();
  if (name == "features") return "stream features";
  if (name == "stream") return "stream header";
  if (tag.xmlns() == "urn:ietf:params:xml:ns:xmpp-sasl") return "sasl " + name;
  if (name == "iq") return iq_kind(tag);
  if (name == "message") return message_kind(tag);
  if (name == "presence") {
    const std::string from = tag.findAttribute("from");
    const std::string type = tag.findAttribute("type");
    const bool own = from.rfind(self, 0) == 0;
    return std::string(own ? "presence own" : "presence contact") +
           (type.empty() ? "" : " " + type);
  }
  return name;
}

std::vector<KindRow> median_kinds(const std::vector<KindTally>& tallies,
                                  const std::vector<double>& wire_bytes) {
  std::set<std::string> kinds;
  for (const auto& t : tallies)
    for (const auto& [k, b] : t.bytes) kinds.insert(k);
  std::vector<KindRow> out;
  std::vector<double> rest;
  for (std::size_t i = 0; i < tallies.size() && i < wire_bytes.size(); ++i) {
    double sum = 0;
    for (const auto& [k, b] : tallies[i].bytes) sum += static_cast<double>(b);
    rest.push_back(wire_bytes[i] - sum);
  }
  for (const auto& kind : kinds) {
    std::vector<double> b, c;
    for (const auto& t : tallies) {
      auto at = t.bytes.find(kind);
      b.push_back(at == t.bytes.end() ? 0 : static_cast<double>(at->second));
      auto n = t.count.find(kind);
      c.push_back(n == t.count.end() ? 0 : static_cast<double>(n->second));
    }
    out.push_back({kind, median(b), median(c)});
  }
  out.push_back({"wire minus serialised (quoting)", median(rest), 0});
  return out;
}

}  // namespace rpsync::bench
