// SPDX-License-Identifier: MIT
#include "roster.h"

#include "ns.h"

namespace rpsync::proto {

xml::Element roster_get(std::string_view from, std::string_view user,
                        const std::optional<std::string>& ver) {
  // XEP-0356 privileged roster get: addressed to the user's bare JID.
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.set_attr("type", "get");
  iq.set_attr("from", std::string(from));
  iq.set_attr("to", std::string(user));
  auto& query = iq.add(xml::Element("query", std::string(ns::kRoster)));
  if (ver) query.set_attr("ver", *ver);
  return iq;
}

xml::Element to_xml(const RosterResult& r, std::string_view from, std::string_view to) {
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.set_attr("type", "result");
  iq.set_attr("from", std::string(from));
  iq.set_attr("to", std::string(to));
  if (r.unchanged) return iq;
  auto& query = iq.add(xml::Element("query", std::string(ns::kRoster)));
  if (r.ver) query.set_attr("ver", *r.ver);
  for (const auto& item : r.items) {
    auto& e = query.add(xml::Element("item", std::string(ns::kRoster)));
    e.set_attr("jid", item.jid);
    e.set_attr("subscription", item.subscription);
  }
  return iq;
}

Result<RosterResult> parse_roster_result(const xml::Element& iq_result) {
  RosterResult r;
  if (iq_result.children().empty()) {
    r.unchanged = true;
    return r;
  }
  const xml::Element* query = iq_result.child("query", ns::kRoster);
  // not-ready: what the component answers a request whose roster it could not read.
  if (!query) return make_error(AppCondition::kNotReady, "roster result without a query");
  if (auto ver = query->attr("ver"); ver && !ver->empty() && ver->size() <= kMaxRosterVersion)
    r.ver = std::string(*ver);
  for (const auto& item : query->children()) {
    if (item.name() != "item") continue;
    auto jid = item.attr("jid");
    if (!jid) continue;
    r.items.push_back({std::string(*jid), std::string(item.attr("subscription").value_or("none"))});
  }
  return r;
}

std::vector<std::string> visible_contacts(RosterResult r) {
  std::vector<std::string> out;
  for (auto& item : r.items)
    if (item.visible()) out.push_back(std::move(item.jid));
  return out;
}

}  // namespace rpsync::proto
