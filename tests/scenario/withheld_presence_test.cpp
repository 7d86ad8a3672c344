// SPDX-License-Identifier: MIT
// Presence the server does not deliver to a user never reaches her through a sync
// (Prosody 0.12 with mod_rpsync_gate and mod_blocklist, the real component):
//
//   directed presence: carol sends <presence to='COMPONENT'/> (a status only the component
//     would see) and a directed unavailable while alice is away -> alice's delta is empty
//     and her state equals a fresh login (carol as she broadcast)
//   blocking while away: carol blocks alice, then changes her status -> alice's sync shows
//     carol unavailable and nothing of her change; equals a fresh login
//   blocking while online: carol blocks alice (alice receives her unavailable live), alice
//     checkpoints; carol changes; alice's sync is empty; equals a fresh login
//   alice blocks dave: dave's changes after it never appear in her deltas
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

xml::Element blocking(const std::string& verb, const std::string& jid) {
  xml::Element e(verb, "urn:xmpp:blocking");
  e.add(xml::Element("item", "urn:xmpp:blocking")).set_attr("jid", jid);
  return e;
}

class WithheldPresence : public Scenario<ProsodyServer> {
 protected:
  const std::string alice = "alice@example.test";
  std::unique_ptr<Party> carol, dave, a;
  proto::PresenceState model;

  void SetUp() override {
    WorldSpec spec = user_with_contacts(alice, {"carol@example.test", "dave@example.test"});
    spec.rpsync_gate = true;  // loads mod_rpsync_gate and mod_blocklist (ServerTraits)
    RPSYNC_SCENARIO_START(spec);
    carol = comes_online("carol@example.test", "phone", shows(Show::kAway, "tea"));
    dave = comes_online("dave@example.test", "pc", shows(Show::kNone, "hi"));
    ASSERT_TRUE(carol && dave);
    a = logs_in(alice, "phone");
    ASSERT_TRUE(a);
    Flood flood = flood_of(*a);
    ASSERT_TRUE(flood.complete);
    model = flood.state;
    ASSERT_EQ(model.size(), 2u) << describe(model);
    ASSERT_TRUE(a->sends_enable(component(), "e1").ok());
  }

  // alice (away, holding `model` at key `last`) comes back and applies her delta.
  void alice_syncs(const std::string& last, const std::string& id) {
    const proto::SyncKey key = a->key(last);
    a->closes();
    a = logs_in(alice, "phone");
    ASSERT_TRUE(a);
    Answer answer = a->sends_sync(component(), id, key);
    std::string why;
    auto delta = delta_of(answer, &why);
    ASSERT_TRUE(delta) << why << "\n" << world->component().log();
    ASSERT_TRUE(proto::apply(model, *delta)) << describe(model) << describe(*delta);
    EXPECT_EQ(delta->state, proto::digest_of(model));
  }

  bool blocks(Party& who, const std::string& jid, const std::string& id) {
    return who.sends_iq("", "set", blocking("block", jid), id).ok();
  }
};

TEST_F(WithheldPresence, DirectedPresenceToTheComponentIsNotState) {
  const proto::SyncKey key = a->key("e1");
  a->closes();
  xml::Element secret("presence", "jabber:client");
  secret.set_attr("to", component());
  secret.add(xml::Element("show", "jabber:client")).set_text("dnd");
  secret.add(xml::Element("status", "jabber:client")).set_text("only the component sees this");
  ASSERT_TRUE(carol->raw().send(secret));
  xml::Element gone("presence", "jabber:client");
  gone.set_attr("to", component());
  gone.set_attr("type", "unavailable");
  ASSERT_TRUE(dave->raw().send(gone));
  ASSERT_TRUE(carol->settles() && dave->settles());
  const proto::PresenceState before = model;
  a = logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Answer answer = a->sends_sync(component(), "s1", key);
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << world->component().log();
  EXPECT_TRUE(delta->empty()) << describe(*delta);
  EXPECT_EQ(model, before);
  expect_model_is_fresh_login(model, alice);
}

TEST_F(WithheldPresence, ContactBlocksTheUserWhileSheIsAway) {
  const proto::SyncKey key = a->key("e1");
  a->closes();
  ASSERT_TRUE(blocks(*carol, alice, "b1"));
  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "after blocking")));
  ASSERT_TRUE(carol->settles());
  a = logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Answer answer = a->sends_sync(component(), "s1", key);
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << world->component().log();
  ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
  EXPECT_EQ(delta->state, proto::digest_of(model));
  for (const auto& [jid, fields] : model) EXPECT_NE(proto::bare_of(jid), "carol@example.test");
  expect_model_is_fresh_login(model, alice);
}

TEST_F(WithheldPresence, ContactBlocksTheUserWhileSheIsOnline) {
  ASSERT_TRUE(blocks(*carol, alice, "b1"));
  // Prosody tells alice at once: carol's resources go unavailable.
  auto live = a->receives([](const xml::Element& s) {
    return s.name() == "presence" && s.attr("type") == "unavailable" &&
           proto::bare_of(s.attr("from").value_or("")) == "carol@example.test";
  });
  ASSERT_TRUE(live);
  model.erase("carol@example.test/phone");
  ASSERT_TRUE(a->sends_checkpoint(component(), "c1", "e1").ok());
  ASSERT_TRUE(carol->sends_presence(shows(Show::kXa, "still changing")));
  ASSERT_TRUE(carol->settles());
  alice_syncs("c1", "s1");
  EXPECT_EQ(model.size(), 1u) << describe(model);
  expect_model_is_fresh_login(model, alice);
}

TEST_F(WithheldPresence, ContactsTheUserBlocksStayOutOfHerDeltas) {
  ASSERT_TRUE(blocks(*a, "dave@example.test", "b1"));
  model.erase("dave@example.test/pc");  // her client knows what it blocked
  ASSERT_TRUE(a->sends_checkpoint(component(), "c1", "e1").ok());
  ASSERT_TRUE(dave->sends_presence(shows(Show::kChat, "talk to me")));
  ASSERT_TRUE(dave->settles());
  alice_syncs("c1", "s1");
  EXPECT_EQ(model.count("dave@example.test/pc"), 0u) << describe(model);
  expect_model_is_fresh_login(model, alice);
}

}  // namespace
}  // namespace rpsync::test::scenario
