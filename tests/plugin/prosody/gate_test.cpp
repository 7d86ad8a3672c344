// SPDX-License-Identifier: MIT
// mod_rpsync_gate against a real Prosody: alice has 5 online and 1 offline contacts,
// all with subscription 'both'. "The flood" = the contacts' presence (5 available + 1
// unavailable) that the server's probes make a session receive after initial presence.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "protocol/ns.h"
#include "tests/plugin/prosody/gate_world.h"

namespace rpsync::test::gate {
namespace {

constexpr int kOnline = 5;
constexpr int kOffline = 1;

WorldOptions world(std::vector<std::string> extra_users = {}, bool load_gate = true) {
  WorldOptions o;
  o.online_contacts = kOnline;
  o.offline_contacts = kOffline;
  o.extra_users = std::move(extra_users);
  o.load_gate = load_gate;
  return o;
}

#define LOGIN_OR_FAIL(var, world, user, resource)            \
  std::string var##_why;                                     \
  auto var = (world)->login((user), (resource), &var##_why); \
  ASSERT_TRUE(var) << var##_why

std::size_t contact_presences(const Received& r) {
  std::size_t n = 0;
  for (const auto& s : r.stanzas)
    if (is_presence_from(s, "c") || is_presence_from(s, "off")) ++n;
  return n;
}

TEST(RpsyncGate, MarkedInitialPresenceReceivesNoFlood) {
  START_WORLD_OR_SKIP(w, world());
  // Another resource of the same account is online: its presence is not a probe answer
  // and must still reach the marked session.
  LOGIN_OR_FAIL(other, w, "alice", "desk");
  ASSERT_TRUE(other->send(presence(false, "dnd")));
  Received other_flood = collect_until_ping(*other);
  ASSERT_TRUE(other_flood.complete);
  ASSERT_EQ(contact_presences(other_flood), static_cast<std::size_t>(kOnline + kOffline))
      << "control: an unmarked initial presence gets the flood";

  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = collect_until_ping(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), 0u) << "probes were sent for a marked initial presence";
  EXPECT_EQ(r.presences_from(alice->jid()), 1u) << "own presence is still reflected";
  EXPECT_EQ(r.presences_from(other->jid()), 1u) << "other resources still send theirs";
  EXPECT_EQ(r.presences(), 2u);
  for (const auto& s : r.stanzas) EXPECT_FALSE(has_marker(s)) << xml::to_string(s);
  EXPECT_NE(w->server().log().find(alice->jid() + " synchronised: skipping " +
                                   std::to_string(kOnline + kOffline) + " presence probes"),
            std::string::npos)
      << "the module did not act (not loaded?)";
}

TEST(RpsyncGate, UnmarkedSessionOfTheSameAccountStillGetsItsFlood) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(synced, w, "alice", "synced");
  ASSERT_TRUE(synced->send(presence(true)));
  ASSERT_EQ(contact_presences(collect_until_ping(*synced)), 0u);

  LOGIN_OR_FAIL(plain, w, "alice", "plain");
  ASSERT_TRUE(plain->send(presence(false)));
  Received r = collect_until_ping(*plain);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), static_cast<std::size_t>(kOnline + kOffline));
  for (int i = 0; i < kOnline; ++i)
    EXPECT_EQ(r.presences_from("c" + std::to_string(i) + "@"), 1u) << "contact " << i;
  EXPECT_EQ(r.presences_from("off0@"), 1u) << "offline contact's unavailable answer";
  EXPECT_EQ(r.presences_from(synced->jid()), 1u);

  // The marked session hears about the new resource and gets no flood after the fact.
  Received later = collect_until_ping(*synced);
  EXPECT_EQ(later.presences_from(plain->jid()), 1u);
  EXPECT_EQ(contact_presences(later), 0u);
}

TEST(RpsyncGate, ContactsSeeTheUserComeOnlineWithoutTheMarker) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true, "chat", "back")));
  ASSERT_TRUE(collect_until_ping(*alice).complete);
  for (auto& c : w->contacts()) {
    auto p = c->wait_for(
        [&](const xml::Element& s) {
          return s.is("presence", ns::kClient) && s.attr("from") == alice->jid();
        },
        kTimeout);
    ASSERT_TRUE(p) << c->jid() << " did not see alice come online";
    EXPECT_FALSE(p->attr("type").has_value());
    EXPECT_EQ(p->child_text("show").value_or(""), "chat");
    EXPECT_EQ(p->child_text("status").value_or(""), "back");
    EXPECT_FALSE(has_marker(*p)) << "marker leaked: " << xml::to_string(*p);
  }
  // A contact that comes online later probes alice and gets her stored presence: no marker.
  LOGIN_OR_FAIL(late, w, "off0", "late");
  ASSERT_TRUE(late->send(presence(false)));
  Received r = collect_until_ping(*late);
  ASSERT_EQ(r.presences_from(alice->jid()), 1u);
  for (const auto& s : r.stanzas) EXPECT_FALSE(has_marker(s)) << xml::to_string(s);
}

TEST(RpsyncGate, LiveUpdatesArriveAfterAMarkedInitialPresence) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  ASSERT_EQ(contact_presences(collect_until_ping(*alice)), 0u);

  auto& c0 = *w->contacts().at(0);
  ASSERT_TRUE(c0.send(presence(false, "xa", "gone fishing")));
  auto p = alice->wait_for([&](const xml::Element& s) { return is_presence_from(s, c0.jid()); },
                           kTimeout);
  ASSERT_TRUE(p) << "live presence update did not arrive";
  EXPECT_EQ(p->child_text("show").value_or(""), "xa");

  // A contact coming online later is announced too.
  LOGIN_OR_FAIL(off0, w, "off0", "r");
  ASSERT_TRUE(off0->send(presence(false)));
  EXPECT_TRUE(alice->wait_for(
      [&](const xml::Element& s) { return is_presence_from(s, off0->jid()); }, kTimeout));
  w->contacts().at(1)->close();
  auto gone =
      alice->wait_for([&](const xml::Element& s) { return is_presence_from(s, "c1@"); }, kTimeout);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->attr("type").value_or(""), "unavailable");
}

TEST(RpsyncGate, SubscriptionRequestsStillWork) {
  START_WORLD_OR_SKIP(w, world({"eve", "frank"}));
  // eve asks while alice is offline: the server stores it and re-sends it on initial presence.
  LOGIN_OR_FAIL(eve, w, "eve", "r");
  xml::Element sub("presence", std::string(ns::kClient));
  sub.set_attr("type", "subscribe");
  sub.set_attr("to", kAlice);
  ASSERT_TRUE(eve->send(sub));
  ASSERT_TRUE(collect_until_ping(*eve).complete);

  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = collect_until_ping(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), 0u);
  std::size_t requests = 0;
  for (const auto& s : r.stanzas)
    if (is_presence_from(s, "eve@") && s.attr("type") == "subscribe") ++requests;
  EXPECT_EQ(requests, 1u) << "pending subscription request not re-sent";

  // Live requests in both directions.
  LOGIN_OR_FAIL(frank, w, "frank", "r");
  ASSERT_TRUE(frank->send(presence(false)));
  ASSERT_TRUE(collect_until_ping(*frank).complete);
  sub.set_attr("to", "frank@example.test");
  ASSERT_TRUE(alice->send(sub));
  auto got = frank->wait_for(
      [](const xml::Element& s) {
        return is_presence_from(s, "alice@") && s.attr("type") == "subscribe";
      },
      kTimeout);
  EXPECT_TRUE(got) << "alice's subscription request did not reach frank";
  sub.set_attr("to", kAlice);
  ASSERT_TRUE(frank->send(sub));
  got = alice->wait_for(
      [](const xml::Element& s) {
        return is_presence_from(s, "frank@") && s.attr("type") == "subscribe";
      },
      kTimeout);
  EXPECT_TRUE(got) << "frank's subscription request did not reach alice";
}

TEST(RpsyncGate, MarkedLaterPresenceIsOnlyStripped) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "plain");
  ASSERT_TRUE(alice->send(presence(false)));
  ASSERT_EQ(contact_presences(collect_until_ping(*alice)),
            static_cast<std::size_t>(kOnline + kOffline));

  ASSERT_TRUE(alice->send(presence(true, "away", "later")));
  Received r = collect_until_ping(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.presences(), 1u) << "a later presence causes only its reflection";
  ASSERT_EQ(r.presences_from(alice->jid()), 1u);
  EXPECT_FALSE(has_marker(r.stanzas.at(0)));

  for (auto& c : w->contacts()) {
    auto p = c->wait_for(
        [&](const xml::Element& s) {
          return is_presence_from(s, alice->jid()) && s.child_text("show") == "away";
        },
        kTimeout);
    ASSERT_TRUE(p) << c->jid() << " did not see the update";
    EXPECT_FALSE(has_marker(*p)) << xml::to_string(*p);
  }
  // The session still receives live updates and probes of a later session are unaffected.
  ASSERT_TRUE(w->contacts().at(0)->send(presence(false, "dnd")));
  EXPECT_TRUE(
      alice->wait_for([&](const xml::Element& s) { return is_presence_from(s, "c0@"); }, kTimeout));
  EXPECT_EQ(w->server().log().find("skipping"), std::string::npos)
      << "a later presence skipped probes";
}

TEST(RpsyncGate, MarkedDirectedPresenceIsStripped) {
  START_WORLD_OR_SKIP(w, world({"eve"}));
  LOGIN_OR_FAIL(eve, w, "eve", "r");
  ASSERT_TRUE(eve->send(presence(false)));
  ASSERT_TRUE(collect_until_ping(*eve).complete);
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  xml::Element directed = presence(true);
  directed.set_attr("to", eve->jid());
  ASSERT_TRUE(alice->send(directed));
  auto p = eve->wait_for([&](const xml::Element& s) { return is_presence_from(s, alice->jid()); },
                         kTimeout);
  ASSERT_TRUE(p) << "directed presence did not arrive";
  EXPECT_FALSE(has_marker(*p)) << xml::to_string(*p);
}

// The window the XEP's checkpoint closes: a contact that changes between the sync answer
// and the marked initial presence is not delivered (the session was not available yet and
// its probes are skipped). The client's fallback, unavailable + unmarked initial presence,
// gets the contacts' current presence from the server.
TEST(RpsyncGate, ChangeBeforeMarkedPresenceIsMissedUntilTheUnmarkedFallback) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "synced");  // bound, "synced", no presence yet
  auto& c0 = *w->contacts().at(0);
  ASSERT_TRUE(c0.send(presence(false, "dnd", "in between")));
  ASSERT_TRUE(collect_until_ping(c0).complete);

  ASSERT_TRUE(alice->send(presence(true)));
  Received marked = collect_until_ping(*alice);
  ASSERT_TRUE(marked.complete);
  EXPECT_EQ(marked.presences_from(c0.jid()), 0u) << "the change reached the session after all";

  xml::Element off = presence(false);
  off.set_attr("type", "unavailable");
  ASSERT_TRUE(alice->send(off));
  ASSERT_TRUE(alice->send(presence(false)));
  Received again = collect_until_ping(*alice);
  ASSERT_TRUE(again.complete);
  EXPECT_EQ(contact_presences(again), static_cast<std::size_t>(kOnline + kOffline));
  const xml::Element* got = nullptr;
  for (const auto& st : again.stanzas)
    if (is_presence_from(st, c0.jid())) got = &st;
  ASSERT_TRUE(got);
  EXPECT_EQ(got->child_text("show").value_or(""), "dnd");
}

TEST(RpsyncGate, ContactsOnAnotherHostAreNotProbedEither) {
  WorldOptions o = world();
  o.other_host_contacts = 3;
  START_WORLD_OR_SKIP(w, o);
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = collect_until_ping(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.presences(), 1u) << "only the reflection";
  LOGIN_OR_FAIL(plain, w, "alice", "plain");
  ASSERT_TRUE(plain->send(presence(false)));
  Received flood = collect_until_ping(*plain);
  EXPECT_EQ(flood.presences_from("x"), 3u) << "control: the other host's contacts answer probes";
}

// The server feature clients look for before sending the marker; `disco#info` of the
// user's domain, with and without the module.
bool server_advertises_feature(TestClient& c) {
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "get");
  iq.set_attr("id", "disco-1");
  iq.set_attr("to", kHost);
  iq.add(xml::Element("query", "http://jabber.org/protocol/disco#info"));
  if (!c.send(iq)) return false;
  auto r = c.wait_for([](const xml::Element& s) { return s.attr("id") == "disco-1"; }, kTimeout);
  const xml::Element* q = r ? r->child("query", "http://jabber.org/protocol/disco#info") : nullptr;
  if (!q) ADD_FAILURE() << "no disco#info answer";
  for (const auto& f : q ? q->children() : std::vector<xml::Element>{})
    if (f.name() == "feature" && f.attr("var") == "urn:xmpp:rpsync:0#synced") return true;
  return false;
}

TEST(RpsyncGate, ServerAdvertisesTheFeature) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "r");
  EXPECT_TRUE(server_advertises_feature(*alice));
}

TEST(RpsyncGate, WithoutTheModuleTheMarkerChangesNothing) {
  // Control for every test above: the same world without the module floods the marked
  // session, so a zero count there is the module's doing.
  START_WORLD_OR_SKIP(w, world({}, false));
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = collect_until_ping(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), static_cast<std::size_t>(kOnline + kOffline));
  EXPECT_FALSE(server_advertises_feature(*alice));
}

}  // namespace
}  // namespace rpsync::test::gate
