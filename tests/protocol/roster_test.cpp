// SPDX-License-Identifier: MIT
#include "protocol/roster.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "protocol/ns.h"

namespace rpsync::proto {
namespace {

// Serialised and parsed again, as the server's answer travels.
Result<RosterResult> through_the_wire(const RosterResult& r) {
  const std::string text = xml::to_string(to_xml(r, "alice@example.test", "rpsync.example.test"));
  auto doc = xml::parse(text);
  EXPECT_TRUE(std::holds_alternative<xml::Element>(doc)) << text;
  return parse_roster_result(std::get<xml::Element>(doc));
}

TEST(Roster, FullVersionedResultRoundTrips) {
  RosterResult r;
  r.ver = "42";
  r.items = {{"bob@example.test", "both"},
             {"carol@example.test", "to"},
             {"dave@example.test", "from"},
             {"eve@example.test", "none"}};
  auto back = through_the_wire(r);
  ASSERT_TRUE(back) << back.error().text;
  EXPECT_EQ(*back, r);
  EXPECT_EQ(visible_contacts(*back),
            (std::vector<std::string>{"bob@example.test", "carol@example.test"}));
}

TEST(Roster, UnversionedAndUnchangedResultsRoundTrip) {
  RosterResult plain;
  plain.items = {{"bob@example.test", "both"}};
  auto back = through_the_wire(plain);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, plain);
  EXPECT_FALSE(back->ver);

  RosterResult unchanged;
  unchanged.unchanged = true;
  back = through_the_wire(unchanged);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->unchanged);
  EXPECT_TRUE(back->items.empty());
}

TEST(Roster, ItemsWithoutJidAreSkippedAndSubscriptionDefaultsToNone) {
  xml::Element iq("iq", std::string(ns::kComponent));
  auto& q = iq.add(xml::Element("query", std::string(ns::kRoster)));
  q.set_attr("ver", "");
  q.add(xml::Element("item", std::string(ns::kRoster))).set_attr("subscription", "both");
  q.add(xml::Element("item", std::string(ns::kRoster))).set_attr("jid", "bob@example.test");
  q.add(xml::Element("group", std::string(ns::kRoster))).set_attr("jid", "x@example.test");
  auto r = parse_roster_result(iq);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->unchanged);
  EXPECT_FALSE(r->ver);  // empty: not a version
  ASSERT_EQ(r->items.size(), 1u);
  EXPECT_EQ(r->items[0], (RosterItem{"bob@example.test", "none"}));
  EXPECT_TRUE(visible_contacts(*r).empty());
}

TEST(Roster, TooLongVersionIsNotKept) {
  RosterResult r;
  r.ver = std::string(kMaxRosterVersion + 1, 'v');
  auto back = through_the_wire(r);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->ver);
  r.ver = std::string(kMaxRosterVersion, 'v');
  back = through_the_wire(r);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ver, r.ver);
}

TEST(Roster, ResultWithAnotherChildIsAnError) {
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.add(xml::Element("query", std::string(ns::kDiscoInfo)));
  auto r = parse_roster_result(iq);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().app, AppCondition::kNotReady);
  EXPECT_EQ(r.error().text, "roster result without a query");
}

TEST(Roster, GetQuotesTheVersionOnlyWhenAsked) {
  auto plain = roster_get("rpsync.example.test", "alice@example.test", std::nullopt);
  EXPECT_EQ(plain.attr("type"), "get");
  EXPECT_EQ(plain.attr("to"), "alice@example.test");
  EXPECT_EQ(plain.attr("from"), "rpsync.example.test");
  const xml::Element* q = plain.child("query", ns::kRoster);
  ASSERT_NE(q, nullptr);
  EXPECT_FALSE(q->attr("ver"));
  auto versioned = roster_get("rpsync.example.test", "alice@example.test", std::string());
  q = versioned.child("query", ns::kRoster);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->attr("ver"), "");
}

}  // namespace
}  // namespace rpsync::proto
