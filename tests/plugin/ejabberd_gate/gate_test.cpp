// SPDX-License-Identifier: MIT
// mod_rpsync_gate (plugin/ejabberd) against a real ejabberd 23.01: alice has 5 online and
// 1 offline contacts, all 'both'. "The flood" = the contacts' presence that the server's
// probes make a session receive after initial presence: on ejabberd 23.01 the 5 online
// contacts' presence only (unlike Prosody, ejabberd does not answer a probe to an offline
// local account with 'unavailable').
// The same cases as the Prosody gate's tests (tests/plugin/prosody/gate_test.cpp).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "protocol/ns.h"
#include "tests/plugin/ejabberd_gate/ej_world.h"

namespace rpsync::test::ejgate {
namespace {

constexpr int kOnline = 5;
constexpr int kOffline = 1;
constexpr std::size_t kFlood = kOnline;

WorldOptions world(std::vector<std::string> extra_users = {}, bool load_gate = true) {
  WorldOptions o;
  o.online_contacts = kOnline;
  o.offline_contacts = kOffline;
  o.extra_users = std::move(extra_users);
  o.load_gate = load_gate;
  return o;
}

#define START_WORLD_OR_SKIP(var, options)                           \
  std::string var##_why;                                            \
  bool var##_missing = false;                                       \
  auto var = EjWorld::start((options), &var##_why, &var##_missing); \
  if (!var) {                                                       \
    if (var##_missing) GTEST_SKIP() << var##_why;                   \
    FAIL() << var##_why;                                            \
  }

#define LOGIN_OR_FAIL(var, world, user, resource)            \
  std::string var##_why;                                     \
  auto var = (world)->login((user), (resource), &var##_why); \
  ASSERT_TRUE(var) << var##_why

Pred presence_from(const std::string& jid) {
  return [jid](const xml::Element& s) { return is_presence_from(s, jid); };
}

TEST(EjabberdGate, MarkedInitialPresenceReceivesNoFlood) {
  START_WORLD_OR_SKIP(w, world());
  // Another resource of the same account is online: its presence answers the probe to
  // alice's own bare JID, which the gate keeps.
  LOGIN_OR_FAIL(other, w, "alice", "desk");
  ASSERT_TRUE(other->send(presence(false, "dnd")));
  Received other_flood = w->barrier(*other);
  ASSERT_TRUE(other_flood.complete);
  ASSERT_EQ(contact_presences(other_flood), kFlood)
      << "control: an unmarked initial presence gets the flood";

  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = w->barrier(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), 0u) << "probes were sent for a marked initial presence";
  EXPECT_EQ(r.presences_from(alice->jid()), 1u) << "own presence is still reflected";
  EXPECT_EQ(r.presences_from(other->jid()), 1u) << "other resources still send theirs";
  EXPECT_EQ(r.presences(), 2u);
  for (const auto& s : r.stanzas) EXPECT_FALSE(has_marker(s)) << xml::to_string(s);
  auto seen = other->take(presence_from(alice->jid()));
  ASSERT_TRUE(seen) << "the other resource did not see the new one";
  EXPECT_FALSE(has_marker(*seen)) << "marker reached the user's other resource";
  EXPECT_TRUE(w->server().log_shows(alice->jid() + " synchronised: skipping presence probes"))
      << "the module did not act (not loaded?)";
}

TEST(EjabberdGate, UnmarkedSessionOfTheSameAccountStillGetsItsFlood) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(synced, w, "alice", "synced");
  ASSERT_TRUE(synced->send(presence(true)));
  ASSERT_EQ(contact_presences(w->barrier(*synced)), 0u);

  LOGIN_OR_FAIL(plain, w, "alice", "plain");
  ASSERT_TRUE(plain->send(presence(false)));
  Received r = w->barrier(*plain);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), kFlood);
  for (int i = 0; i < kOnline; ++i)
    EXPECT_EQ(r.presences_from("c" + std::to_string(i) + "@"), 1u) << "contact " << i;
  EXPECT_EQ(r.presences_from("off0@"), 0u) << "ejabberd answers no probe for an offline account";
  EXPECT_EQ(r.presences_from(synced->jid()), 1u);

  // The marked session hears about the new resource and gets no flood after the fact.
  Received later = w->barrier(*synced);
  EXPECT_EQ(later.presences_from(plain->jid()), 1u);
  EXPECT_EQ(contact_presences(later), 0u);
}

TEST(EjabberdGate, ContactsSeeTheUserComeOnlineWithoutTheMarker) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true, "chat", "back")));
  ASSERT_TRUE(w->barrier(*alice).complete);
  for (auto& c : w->contacts()) {
    auto p = c->take(presence_from(alice->jid()));
    ASSERT_TRUE(p) << c->jid() << " did not see alice come online";
    EXPECT_FALSE(p->attr("type").has_value());
    EXPECT_EQ(p->child_text("show").value_or(""), "chat");
    EXPECT_EQ(p->child_text("status").value_or(""), "back");
    EXPECT_FALSE(has_marker(*p)) << "marker leaked: " << xml::to_string(*p);
  }
  // A contact that comes online later probes alice and gets her stored presence: no marker.
  LOGIN_OR_FAIL(late, w, "off0", "late");
  ASSERT_TRUE(late->send(presence(false)));
  auto p = late->take(presence_from(alice->jid()));
  ASSERT_TRUE(p) << "alice's stored presence did not answer the late contact's probe";
  EXPECT_FALSE(has_marker(*p)) << xml::to_string(*p);
}

TEST(EjabberdGate, LiveUpdatesArriveAfterAMarkedInitialPresence) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  ASSERT_EQ(contact_presences(w->barrier(*alice)), 0u);

  auto& c0 = *w->contacts().at(0);
  ASSERT_TRUE(c0.send(presence(false, "xa", "gone fishing")));
  auto p = alice->take(presence_from(c0.jid()));
  ASSERT_TRUE(p) << "live presence update did not arrive";
  EXPECT_EQ(p->child_text("show").value_or(""), "xa");

  LOGIN_OR_FAIL(off0, w, "off0", "r");
  ASSERT_TRUE(off0->send(presence(false)));
  EXPECT_TRUE(alice->take(presence_from(off0->jid()))) << "a contact coming online later";
  w->contacts().at(1)->close();
  auto gone = alice->take(presence_from("c1@"));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->attr("type").value_or(""), "unavailable");
}

TEST(EjabberdGate, MarkedLaterPresenceIsOnlyStripped) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "plain");
  ASSERT_TRUE(alice->send(presence(false)));
  ASSERT_EQ(contact_presences(w->barrier(*alice)), kFlood);

  ASSERT_TRUE(alice->send(presence(true, "away", "later")));
  Received r = w->barrier(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.presences(), 1u) << "a later presence causes only its reflection";
  ASSERT_EQ(r.presences_from(alice->jid()), 1u);
  EXPECT_FALSE(has_marker(r.stanzas.at(0)));
  for (auto& c : w->contacts()) {
    auto p = c->take([&](const xml::Element& s) {
      return is_presence_from(s, alice->jid()) && s.child_text("show") == "away";
    });
    ASSERT_TRUE(p) << c->jid() << " did not see the update";
    EXPECT_FALSE(has_marker(*p)) << xml::to_string(*p);
  }
  EXPECT_EQ(w->server().log().find("skipping presence probes"), std::string::npos)
      << "a later presence skipped probes";

  // Unavailable, then a marked initial presence again: a new initial presence, gated.
  ASSERT_TRUE(alice->send(unavailable()));
  ASSERT_TRUE(alice->send(presence(true)));
  Received again = w->barrier(*alice);
  ASSERT_TRUE(again.complete);
  EXPECT_EQ(contact_presences(again), 0u);

  // And unmarked after another unavailable: the flag is gone, the flood is back.
  ASSERT_TRUE(alice->send(unavailable()));
  ASSERT_TRUE(alice->send(presence(false)));
  Received plain = w->barrier(*alice);
  ASSERT_TRUE(plain.complete);
  EXPECT_EQ(contact_presences(plain), kFlood);
}

TEST(EjabberdGate, MarkedDirectedPresenceIsStripped) {
  START_WORLD_OR_SKIP(w, world({"eve"}));
  LOGIN_OR_FAIL(eve, w, "eve", "r");
  ASSERT_TRUE(eve->send(presence(false)));
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  xml::Element directed = presence(true);
  directed.set_attr("to", eve->jid());
  ASSERT_TRUE(alice->send(directed));
  auto p = eve->take(presence_from(alice->jid()));
  ASSERT_TRUE(p) << "directed presence did not arrive";
  EXPECT_FALSE(has_marker(*p)) << xml::to_string(*p);
}

// The probes skipped are those of the session that marked its presence: eve's marker
// cannot spare alice's session its probes, nor does it touch alice's contacts.
TEST(EjabberdGate, AClientCannotSuppressProbesForAnotherUser) {
  START_WORLD_OR_SKIP(w, world({"eve"}));
  LOGIN_OR_FAIL(eve, w, "eve", "r");
  ASSERT_TRUE(eve->send(presence(true)));  // eve's own marked initial presence
  ASSERT_TRUE(w->barrier(*eve).complete);
  LOGIN_OR_FAIL(forger, w, "eve", "forger");
  xml::Element forged = presence(true);
  forged.set_attr("from", std::string(kAlice) + "/plain");  // ejabberd closes this stream
  ASSERT_TRUE(forger->send(forged));
  forger->drain(std::chrono::milliseconds(300));
  LOGIN_OR_FAIL(alice, w, "alice", "plain");
  ASSERT_TRUE(alice->send(presence(false)));
  Received r = w->barrier(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), kFlood);
}

bool server_advertises(Peer& c, std::string_view feature) {
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "get");
  iq.set_attr("id", "disco-1");
  iq.set_attr("to", kHost);
  iq.add(xml::Element("query", "http://jabber.org/protocol/disco#info"));
  if (!c.send(iq)) return false;
  auto r = c.take([](const xml::Element& s) { return s.attr("id") == "disco-1"; });
  const xml::Element* q = r ? r->child("query", "http://jabber.org/protocol/disco#info") : nullptr;
  if (!q) ADD_FAILURE() << "no disco#info answer";
  for (const auto& f : q ? q->children() : std::vector<xml::Element>{})
    if (f.name() == "feature" && f.attr("var") == feature) return true;
  return false;
}

TEST(EjabberdGate, ServerAdvertisesTheFeatures) {
  START_WORLD_OR_SKIP(w, world());
  LOGIN_OR_FAIL(alice, w, "alice", "r");
  EXPECT_TRUE(server_advertises(*alice, "urn:xmpp:rpsync:0#synced"));
  EXPECT_TRUE(server_advertises(*alice, "urn:xmpp:rpsync:0#sessions"));
}

TEST(EjabberdGate, WithoutComponentsOnlyTheGateIsAdvertised) {
  WorldOptions o = world();
  o.components = std::vector<std::string>{};
  START_WORLD_OR_SKIP(w, o);
  LOGIN_OR_FAIL(alice, w, "alice", "r");
  EXPECT_TRUE(server_advertises(*alice, "urn:xmpp:rpsync:0#synced"));
  EXPECT_FALSE(server_advertises(*alice, "urn:xmpp:rpsync:0#sessions"));
  EXPECT_TRUE(w->server().log_shows("no 'components' configured"));
}

TEST(EjabberdGate, WithoutTheModuleTheMarkerChangesNothing) {
  // Control for every test above: the same world without the module floods the marked
  // session, so a zero count there is the module's doing.
  START_WORLD_OR_SKIP(w, world({}, false));
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true)));
  Received r = w->barrier(*alice);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(contact_presences(r), kFlood);
  EXPECT_FALSE(server_advertises(*alice, "urn:xmpp:rpsync:0#synced"));
}

}  // namespace
}  // namespace rpsync::test::ejgate
