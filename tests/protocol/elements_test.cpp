// SPDX-License-Identifier: MIT
// Round-trip and rejection tests for every rpsync element.
#include <gtest/gtest.h>

#include "protocol/delta.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "protocol/sync.h"

namespace rpsync::proto {
namespace {

xml::Element parse_ok(std::string_view doc) {
  auto r = xml::parse(doc);
  EXPECT_TRUE(std::holds_alternative<xml::Element>(r)) << doc;
  return std::holds_alternative<xml::Element>(r) ? std::get<xml::Element>(r) : xml::Element();
}

// Serialise, reparse the text, parse again: the value must survive unchanged.
template <class T, class Parse>
void expect_round_trip(const T& value, Parse parse) {
  std::string text = xml::to_string(to_xml(value));
  auto back = parse(parse_ok(text), kDefaultLimits);
  ASSERT_TRUE(back.ok()) << text << ": " << back.error().text;
  EXPECT_EQ(*back, value) << text;
}

StateDigest some_digest() {
  StateDigest d;
  d.add(resource_hash("bob@example.test/laptop", PresenceFields{}));
  return d;
}

TEST(Elements, SessionElementsRoundTrip) {
  expect_round_trip(Enable{"s1"}, parse_enable);
  expect_round_trip(Enabled{604800, some_digest()}, parse_enabled);
  expect_round_trip(Checkpoint{"s1", "en-1"}, parse_checkpoint);
  expect_round_trip(Checkpointed{some_digest()}, parse_checkpointed);
  expect_round_trip(Disable{"s1"}, parse_disable);
  expect_round_trip(Sync{"s2", SyncKey{"s1", "phone", "cp-7"}}, parse_sync);
}

TEST(Elements, SessionElementsRejectBadInput) {
  const std::string r(ns::kRpsync);
  auto enable = [&](std::string attrs) {
    return parse_enable(parse_ok("<enable xmlns='" + r + "' " + attrs + "/>"));
  };
  EXPECT_TRUE(enable("stream='a'").ok());
  EXPECT_EQ(enable("").error().condition, Condition::kBadRequest);
  EXPECT_EQ(enable("stream=''").error().condition, Condition::kBadRequest);
  EXPECT_EQ(enable("stream='" + std::string(257, 'a') + "'").error().condition,
            Condition::kBadRequest);
  EXPECT_FALSE(parse_enable(parse_ok("<enable xmlns='urn:other' stream='a'/>")).ok());
  EXPECT_FALSE(parse_enable(parse_ok("<enable xmlns='" + r + "' stream='a'><x/></enable>")).ok());
  EXPECT_FALSE(parse_checkpoint(parse_ok("<checkpoint xmlns='" + r + "' stream='a'/>")).ok());
  EXPECT_FALSE(parse_enabled(parse_ok("<enabled xmlns='" + r + "' lifetime='-1' count='0' "
                                      "digest='" + std::string(64, '0') + "'/>"))
                   .ok());
  EXPECT_FALSE(parse_enabled(parse_ok("<enabled xmlns='" + r + "' lifetime='1' count='0' "
                                      "digest='00'/>"))
                   .ok());
  EXPECT_FALSE(
      parse_enabled(parse_ok("<enabled xmlns='" + r + "' lifetime='01' count='0' digest='" +
                             std::string(64, '0') + "'/>"))
          .ok())
      << "no leading zeros: one spelling per value";
}

TEST(Elements, SyncRejectsMissingOrDuplicateKey) {
  const std::string r(ns::kRpsync);
  EXPECT_FALSE(parse_sync(parse_ok("<sync xmlns='" + r + "' stream='n'/>")).ok());
  EXPECT_FALSE(parse_sync(parse_ok("<sync xmlns='" + r +
                                   "' stream='n'><key stream='o' resource='r' last='l'/>"
                                   "<key stream='o' resource='r' last='l'/></sync>"))
                   .ok());
  EXPECT_FALSE(
      parse_sync(parse_ok("<sync xmlns='" + r + "' stream='n'><key stream='o' last='l'/></sync>"))
          .ok());
  EXPECT_FALSE(parse_sync(parse_ok("<sync xmlns='" + r + "' stream='n'><key stream='o' "
                                   "resource='" + std::string(1024, 'r') + "' last='l'/></sync>"))
                   .ok());
  auto ok = parse_sync(parse_ok("<sync xmlns='" + r +
                                "' stream='n'><key stream='o' resource='r' last='l'/>"
                                "<ext xmlns='urn:future'/></sync>"));
  EXPECT_TRUE(ok.ok()) << "foreign extensions are ignored";
}

Delta sample_delta() {
  Delta d;
  d.lifetime = 3600;
  d.state = some_digest();
  d.contacts = {{"carol@example.test", ContactChange::Kind::kAdded},
                {"dave@example.test", ContactChange::Kind::kRemoved}};
  PresenceFields full;
  full.show = Show::kChat;
  full.status = "hi & <bye>";
  full.priority = -1;
  full.caps = Caps{"sha-1", "https://gajim.org", "q07IKJEyjvHSyhy//CH0CxmKi8w="};
  full.photo = "a1b2";
  full.idle_since = "2026-11-21T08:00:00Z";
  d.added = {{"carol@example.test/tablet", full}, {"eve@example.test/x", PresenceFields{}}};
  PresenceFields before = full, after;
  after.status = "back";
  after.priority = 3;
  d.changed = {make_change("bob@example.test/laptop", before, after)};
  d.unavailable = {"dave@example.test/phone"};
  return d;
}

TEST(Elements, DeltaRoundTrip) {
  expect_round_trip(sample_delta(), parse_delta);
  Delta empty;
  empty.lifetime = 10;
  expect_round_trip(empty, parse_delta);
}

TEST(Elements, ChangedCarriesOnlyDifferingFieldsAndUnsets) {
  auto d = sample_delta();
  const auto& c = d.changed[0];
  EXPECT_EQ(c.set, bit(Field::kStatus) | bit(Field::kPriority));
  EXPECT_EQ(c.unset, bit(Field::kShow) | bit(Field::kCaps) | bit(Field::kPhoto) | bit(Field::kIdle));
  auto x = to_xml(d);
  const xml::Element* changed = x.child("changed");
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->children().size(), 6u);
  EXPECT_EQ(changed->child_text("status"), "back");
  EXPECT_FALSE(changed->child("show"));
}

TEST(Elements, DeltaRejectsMalformedItems) {
  auto bad = [](std::string inner) {
    std::string doc = "<delta xmlns='" + std::string(ns::kRpsync) +
                      "' lifetime='1' count='0' digest='" + std::string(64, '0') + "'>" + inner +
                      "</delta>";
    auto r = parse_delta(parse_ok(doc));
    if (r.ok()) return std::string("accepted");
    EXPECT_EQ(r.error().condition, Condition::kBadRequest);
    return r.error().text;
  };
  EXPECT_NE(bad("<new jid='bare@example.test'/>"), "accepted") << "needs a full JID";
  EXPECT_NE(bad("<contact jid='a@b/c' change='added'/>"), "accepted") << "needs a bare JID";
  EXPECT_NE(bad("<contact jid='a@b' change='maybe'/>"), "accepted");
  EXPECT_NE(bad("<new jid='a@b/c'/><unavailable jid='a@b/c'/>"), "accepted") << "JID twice";
  EXPECT_NE(bad("<new jid='a@b/c'><show>sleepy</show></new>"), "accepted");
  EXPECT_NE(bad("<new jid='a@b/c'><priority>0</priority></new>"), "accepted") << "default value";
  EXPECT_NE(bad("<new jid='a@b/c'><priority>200</priority></new>"), "accepted");
  EXPECT_NE(bad("<new jid='a@b/c'><status/></new>"), "accepted");
  EXPECT_NE(bad("<new jid='a@b/c'><unset field='show'/></new>"), "accepted");
  EXPECT_NE(bad("<changed jid='a@b/c'/>"), "accepted") << "a change must name a field";
  EXPECT_NE(bad("<changed jid='a@b/c'><unset field='mood'/></changed>"), "accepted");
  EXPECT_NE(bad("<changed jid='a@b/c'><status>x</status><unset field='status'/></changed>"),
            "accepted");
  EXPECT_NE(bad("<bogus jid='a@b/c'/>"), "accepted");
  EXPECT_NE(bad("<new jid='a@b/c'><caps node='n'/></new>"), "accepted");
  EXPECT_EQ(bad("<new jid='a@b/c'><ext xmlns='urn:future'/></new>"), "accepted");
}

TEST(Elements, DeltaItemLimit) {
  Limits limits;
  limits.max_delta_items = 3;
  Delta d;
  for (int i = 0; i < 4; ++i) d.unavailable.push_back("a@b/" + std::to_string(i));
  auto r = parse_delta(parse_ok(xml::to_string(to_xml(d))), limits);
  ASSERT_FALSE(r.ok());
  d.unavailable.pop_back();
  EXPECT_TRUE(parse_delta(parse_ok(xml::to_string(to_xml(d))), limits).ok());
}

TEST(Elements, ExceedsLimitsAgreesWithTheParser) {
  Delta d = sample_delta();
  EXPECT_FALSE(exceeds_limits(d));
  d.changed[0].values.status = std::string(1025, 's');
  auto why = exceeds_limits(d);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("status"), std::string::npos);
  EXPECT_FALSE(parse_delta(parse_ok(xml::to_string(to_xml(d)))).ok())
      << "what exceeds_limits flags, the parser refuses";
  d.changed[0].values.status = std::string(1024, 's');
  EXPECT_FALSE(exceeds_limits(d));
  EXPECT_TRUE(parse_delta(parse_ok(xml::to_string(to_xml(d)))).ok());
  d.added[0].fields.caps->node = std::string(1025, 'n');
  EXPECT_TRUE(exceeds_limits(d));
  EXPECT_FALSE(parse_delta(parse_ok(xml::to_string(to_xml(d)))).ok());
}

TEST(Elements, ParseRequestDispatchesOnTheRpsyncChild) {
  auto iq = parse_ok("<iq xmlns='jabber:client' type='set' id='a'>"
                     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s' prev='p'/></iq>");
  auto r = parse_request(iq);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(std::holds_alternative<Checkpoint>(*r));
  EXPECT_EQ(std::get<Checkpoint>(*r).prev, "p");

  auto unknown = parse_request(parse_ok("<iq xmlns='jabber:client'><frobnicate "
                                        "xmlns='urn:xmpp:rpsync:0'/></iq>"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().condition, Condition::kFeatureNotImplemented);
  auto none = parse_request(parse_ok("<iq xmlns='jabber:client'><q xmlns='x'/></iq>"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().condition, Condition::kBadRequest);
}

TEST(Elements, SyncedMarkerRoundTrip) {
  xml::Element presence("presence", std::string(ns::kClient));
  EXPECT_FALSE(has_synced_marker(presence));
  presence.add(synced_marker());
  auto back = parse_ok(xml::to_string(presence));
  EXPECT_TRUE(has_synced_marker(back));
  EXPECT_EQ(xml::to_string(back.children()[0], ns::kClient), "<synced xmlns='urn:xmpp:rpsync:0'/>");
  EXPECT_FALSE(has_synced_marker(parse_ok("<presence xmlns='jabber:client'><synced "
                                          "xmlns='urn:other'/></presence>")));
}

TEST(Elements, StanzaErrorsFollowTheSpecTable) {
  struct Row {
    AppCondition app;
    ErrorType type;
    Condition condition;
  };
  for (auto [app, type, cond] : {
           Row{AppCondition::kUnknownKey, ErrorType::kCancel, Condition::kItemNotFound},
           Row{AppCondition::kExpired, ErrorType::kCancel, Condition::kItemNotFound},
           Row{AppCondition::kContinuityLost, ErrorType::kCancel, Condition::kUndefinedCondition},
           Row{AppCondition::kTooLarge, ErrorType::kCancel, Condition::kUndefinedCondition},
           Row{AppCondition::kNotEnabled, ErrorType::kCancel, Condition::kUnexpectedRequest},
           Row{AppCondition::kOutOfOrder, ErrorType::kModify, Condition::kUnexpectedRequest},
           Row{AppCondition::kNotReady, ErrorType::kWait, Condition::kServiceUnavailable},
           Row{AppCondition::kRateLimited, ErrorType::kWait, Condition::kResourceConstraint},
           Row{AppCondition::kStanzaTooBig, ErrorType::kModify, Condition::kPolicyViolation},
           Row{AppCondition::kBusy, ErrorType::kWait, Condition::kResourceConstraint},
       }) {
    auto e = make_error(app, "why");
    EXPECT_EQ(e.type, type) << to_string(app);
    EXPECT_EQ(e.condition, cond) << to_string(app);
    auto x = to_xml(e, ns::kClient);
    auto back = parse_stanza_error(parse_ok(xml::to_string(x)));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, e);
  }
  EXPECT_FALSE(parse_stanza_error(parse_ok("<error xmlns='jabber:client' type='cancel'/>")));
  EXPECT_FALSE(parse_stanza_error(parse_ok(
      "<error xmlns='jabber:client' type='sideways'><bad-request "
      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")));
}

}  // namespace
}  // namespace rpsync::proto
