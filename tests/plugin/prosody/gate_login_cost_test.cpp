// SPDX-License-Identifier: MIT
// What mod_rpsync_gate saves every login besides the probes, against a real Prosody with
// mod_privilege: the empty <privilege/> advertisement mod_privilege sends each client on
// initial presence is withheld (and still reaches the client without the module), and a
// client's <sync/> turns Nagle off on its connection (and nothing else does).
#include <gtest/gtest.h>

#include <string>

#include "protocol/ns.h"
#include "tests/plugin/prosody/gate_world.h"

namespace rpsync::test::gate {
namespace {

WorldOptions world(bool load_gate) {
  WorldOptions o;
  o.online_contacts = 2;
  o.offline_contacts = 0;
  o.load_gate = load_gate;
  return o;
}

std::size_t privilege_messages(const Received& r) {
  std::size_t n = 0;
  for (const auto& s : r.stanzas) {
    if (s.name() == "message" && s.child("privilege", "urn:xmpp:privilege:2") != nullptr) ++n;
  }
  return n;
}

// Initial presence, then everything up to a ping's answer.
Received initial_presence(GateWorld& w, const std::string& resource, bool marked) {
  std::string why;
  auto alice = w.login("alice", resource, &why);
  if (!alice) {
    ADD_FAILURE() << why;
    return {};
  }
  EXPECT_TRUE(alice->send(presence(marked)));
  return collect_until_ping(*alice);
}

TEST(RpsyncGateLoginCost, EmptyPrivilegeAdvertisementIsWithheld) {
  START_WORLD_OR_SKIP(w, world(true));
  for (bool marked : {false, true}) {
    Received r = initial_presence(*w, marked ? "marked" : "plain", marked);
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(privilege_messages(r), 0u) << "marked=" << marked;
    EXPECT_EQ(r.presences_from("alice@"), 1u) << "own presence is still reflected";
  }
}

TEST(RpsyncGateLoginCost, WithoutTheModuleTheAdvertisementArrives) {
  START_WORLD_OR_SKIP(w, world(false));
  Received r = initial_presence(*w, "plain", false);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(privilege_messages(r), 1u) << "control: mod_privilege sends it to every client";
}

xml::Element iq_to_component(const std::string& id, const std::string& child) {
  xml::Element iq("iq", "jabber:client");
  iq.set_attr("type", "set");
  iq.set_attr("id", id);
  iq.set_attr("to", "rpsync.example.test");
  iq.add(xml::Element(child, std::string(ns::kRpsync)));
  return iq;
}

TEST(RpsyncGateLoginCost, SyncRequestTurnsNagleOffForThatSessionOnly) {
  START_WORLD_OR_SKIP(w, world(true));
  std::string why;
  auto other = w->login("alice", "other", &why);
  ASSERT_TRUE(other) << why;
  ASSERT_TRUE(other->send(iq_to_component("e1", "enable")));
  ASSERT_TRUE(collect_until_ping(*other).complete);
  auto alice = w->login("alice", "syncing", &why);
  ASSERT_TRUE(alice) << why;
  ASSERT_TRUE(alice->send(iq_to_component("s1", "sync")));
  ASSERT_TRUE(alice->send(iq_to_component("s2", "sync")));
  ASSERT_TRUE(collect_until_ping(*alice).complete);
  const std::string log = w->server().log();
  const std::string line = "TCP_NODELAY for ";
  EXPECT_NE(log.find(line + alice->jid()), std::string::npos) << "not set for the syncing session";
  EXPECT_EQ(log.find(line + other->jid()), std::string::npos) << "set for a session without sync";
  const auto first = log.find(line + alice->jid());
  EXPECT_EQ(log.find(line + alice->jid(), first + 1), std::string::npos) << "set twice";
}

}  // namespace
}  // namespace rpsync::test::gate
