// SPDX-License-Identifier: MIT
// mod_rpsync_gate's confirmation of a marked initial presence, against a real Prosody:
// a session that sent <sync/> to the privileged component and whose window stayed clean
// (no presence addressed to the user, no roster change, until its marked initial presence)
// gets <synced xmlns='urn:xmpp:rpsync:0'/> on the reflection of that presence, and only
// there. Every kind of presence that can reach the user in the window withholds it, so the
// client verifies with a checkpoint as before. No component is connected: the gate opens
// the window on the request itself, whatever the answer.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "protocol/ns.h"
#include "tests/plugin/prosody/gate_world.h"

namespace rpsync::test::gate {
namespace {

WorldOptions world() {
  WorldOptions o;
  o.online_contacts = 3;
  o.offline_contacts = 1;
  o.extra_users = {"eve"};
  return o;
}

xml::Element sync_request(const std::string& to) {
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", "s1");
  iq.set_attr("to", to);
  iq.add(xml::Element("sync", std::string(ns::kRpsync)));
  return iq;
}

// Logs alice in as `resource`, sends <sync/> to `to` (none when empty), runs `between`,
// then the initial presence (marked or not); tells what the session received.
struct Outcome {
  bool reflected = false;
  bool confirmed = false;
  bool marker_elsewhere = false;        // a marker on anything but the reflection
  std::unique_ptr<TestClient> session;  // still online
};
Outcome run(GateWorld& w, const std::string& resource, const std::string& to, bool marked,
            const std::function<void()>& between = {}) {
  Outcome out;
  std::string why;
  auto alice = w.login("alice", resource, &why);
  if (!alice) {
    ADD_FAILURE() << why;
    return out;
  }
  if (!to.empty()) {
    EXPECT_TRUE(alice->send(sync_request(to)));
    EXPECT_TRUE(collect_until_ping(*alice).complete);
  }
  if (between) between();
  EXPECT_TRUE(alice->send(presence(marked)));
  Received r = collect_until_ping(*alice);
  EXPECT_TRUE(r.complete);
  for (const auto& s : r.stanzas) {
    if (is_presence_from(s, alice->jid()) && !out.reflected) {
      out.reflected = true;
      out.confirmed = has_marker(s);
    } else if (has_marker(s)) {
      out.marker_elsewhere = true;
    }
  }
  out.session = std::move(alice);
  return out;
}

TEST(RpsyncGateConfirm, CleanWindowConfirmsOnTheReflectionOnly) {
  START_WORLD_OR_SKIP(w, world());
  std::string why;
  auto desk = w->login("alice", "desk", &why);
  ASSERT_TRUE(desk) << why;
  ASSERT_TRUE(desk->send(presence(false)));
  ASSERT_TRUE(collect_until_ping(*desk).complete);

  Outcome o = run(*w, "synced", "rpsync.example.test", true);
  ASSERT_TRUE(o.reflected);
  EXPECT_TRUE(o.confirmed) << "a clean window was not confirmed";
  EXPECT_FALSE(o.marker_elsewhere);
  const std::string alice = std::string(kAlice) + "/synced";
  auto on_desk =
      desk->wait_for([&](const xml::Element& s) { return is_presence_from(s, alice); }, kTimeout);
  ASSERT_TRUE(on_desk) << "the other resource did not see the new session";
  EXPECT_FALSE(has_marker(*on_desk)) << "leaked to another resource: " << xml::to_string(*on_desk);
  for (auto& c : w->contacts()) {
    auto p =
        c->wait_for([&](const xml::Element& s) { return is_presence_from(s, alice); }, kTimeout);
    ASSERT_TRUE(p) << c->jid();
    EXPECT_FALSE(has_marker(*p)) << "leaked to a contact: " << xml::to_string(*p);
  }
  // A contact coming online later probes alice: her stored presence carries nothing either.
  auto late = w->login("off0", "late", &why);
  ASSERT_TRUE(late) << why;
  ASSERT_TRUE(late->send(presence(false)));
  Received r = collect_until_ping(*late);
  ASSERT_EQ(r.presences_from(alice), 1u);
  for (const auto& s : r.stanzas) EXPECT_FALSE(has_marker(s)) << xml::to_string(s);
}

TEST(RpsyncGateConfirm, NothingWithoutASyncAMarkerOrAPrivilegedComponent) {
  START_WORLD_OR_SKIP(w, world());
  Outcome no_sync = run(*w, "a", "", true);
  EXPECT_TRUE(no_sync.reflected);
  EXPECT_FALSE(no_sync.confirmed) << "confirmed without a sync";
  Outcome unmarked = run(*w, "b", "rpsync.example.test", false);
  EXPECT_TRUE(unmarked.reflected);
  EXPECT_FALSE(unmarked.confirmed) << "confirmed an unmarked initial presence";
  Outcome to_host = run(*w, "c", "example.test", true);
  EXPECT_FALSE(to_host.confirmed) << "a sync to the server itself opened the window";
  Outcome to_user = run(*w, "d", "eve@example.test", true);
  EXPECT_FALSE(to_user.confirmed) << "a sync to a user opened the window";
}

TEST(RpsyncGateConfirm, AnyPresenceToTheUserInTheWindowWithholdsIt) {
  START_WORLD_OR_SKIP(w, world());
  auto& c0 = *w->contacts().at(0);
  auto& c1 = *w->contacts().at(1);
  std::string why;
  auto desk = w->login("alice", "desk", &why);
  ASSERT_TRUE(desk) << why;
  ASSERT_TRUE(desk->send(presence(false)));
  ASSERT_TRUE(collect_until_ping(*desk).complete);
  const std::string to = "rpsync.example.test";
  struct Case {
    const char* name;
    std::function<void()> act;
  };
  const Case cases[] = {
      {"a contact's broadcast",
       [&] {
         EXPECT_TRUE(c0.send(presence(false, "dnd", "busy")));
         collect_until_ping(c0);
       }},
      {"a contact going offline",
       [&] {
         auto& c2 = *w->contacts().at(2);
         xml::Element off = presence(false);
         off.set_attr("type", "unavailable");
         EXPECT_TRUE(c2.send(off));
         collect_until_ping(c2);
       }},
      {"a directed presence to her full JID",
       [&] {
         xml::Element p = presence(false, "chat");
         p.set_attr("to", std::string(kAlice) + "/r3");  // the session of this case
         EXPECT_TRUE(c1.send(p));
         collect_until_ping(c1);
       }},
      {"a subscription request",
       [&] {
         auto eve = w->login("eve", "r", &why);
         ASSERT_TRUE(eve) << why;
         xml::Element sub("presence", std::string(ns::kClient));
         sub.set_attr("type", "subscribe");
         sub.set_attr("to", kAlice);
         EXPECT_TRUE(eve->send(sub));
         collect_until_ping(*eve);
       }},
  };
  int n = 0;
  for (const auto& c : cases) {
    Outcome o = run(*w, "r" + std::to_string(++n), to, true, c.act);
    EXPECT_TRUE(o.reflected) << c.name;
    EXPECT_FALSE(o.confirmed) << "confirmed after " << c.name;
  }
  // Her other resources' changes do not count: the server sends their current presence to
  // the session right after its initial presence, confirmed or not.
  Outcome own = run(*w, "own", to, true, [&] {
    EXPECT_TRUE(desk->send(presence(false, "away")));
    collect_until_ping(*desk);
  });
  EXPECT_TRUE(own.confirmed) << "her other resource's change withheld it";
  // Control: the same world with a clean window still confirms.
  Outcome clean = run(*w, "clean", to, true);
  EXPECT_TRUE(clean.confirmed) << "control: a clean window";
}

TEST(RpsyncGateConfirm, RosterChangeInTheWindowWithholdsIt) {
  START_WORLD_OR_SKIP(w, world());
  std::string why;
  auto desk = w->login("alice", "desk", &why);
  ASSERT_TRUE(desk) << why;
  Outcome o = run(*w, "synced", "rpsync.example.test", true, [&] {
    xml::Element iq("iq", std::string(ns::kClient));
    iq.set_attr("type", "set");
    iq.set_attr("id", "r1");
    xml::Element query("query", "jabber:iq:roster");
    xml::Element item("item", "jabber:iq:roster");
    item.set_attr("jid", "eve@example.test");
    query.add(std::move(item));
    iq.add(std::move(query));
    EXPECT_TRUE(desk->send(iq));
    EXPECT_TRUE(collect_until_ping(*desk).complete);
  });
  EXPECT_TRUE(o.reflected);
  EXPECT_FALSE(o.confirmed) << "confirmed after a roster change";
}

TEST(RpsyncGateConfirm, ProbesToTheUserDoNotCount) {
  START_WORLD_OR_SKIP(w, world());
  // off0 logs in meanwhile: its initial presence probes alice (who has no presence yet)
  // and broadcasts to her, which counts; a bare probe alone changes nothing she holds.
  std::string why;
  auto eve = w->login("eve", "r", &why);
  ASSERT_TRUE(eve) << why;
  Outcome o = run(*w, "synced", "rpsync.example.test", true, [&] {
    xml::Element probe("presence", std::string(ns::kClient));
    probe.set_attr("type", "probe");
    probe.set_attr("to", kAlice);
    EXPECT_TRUE(eve->send(probe));
    EXPECT_TRUE(collect_until_ping(*eve).complete);
  });
  EXPECT_TRUE(o.confirmed) << "a probe to the user withheld the confirmation";
}

}  // namespace
}  // namespace rpsync::test::gate
