// SPDX-License-Identifier: MIT
// Scenario 3: contacts change while alice is away; on reconnect (new stream id, sync sent
// BEFORE initial presence) she receives exactly those changes, field by field, and her
// model after applying them equals what a fresh full login shows.
//
//   alice logs in, sees carol/phone, dave/pc, erin/laptop, xavier@other.test/home; enables
//   alice checkpoints and logs out
//   carol changes her status; dave adds a resource (every field set); erin logs out;
//   hank's connection is reset;
//   xavier drops his <show/> (and keeps his status)
//   alice reconnects and sends <sync/> with her key before any presence
//   alice receives: changed carol/phone {status}, new dave/tablet {all six fields},
//                   unavailable erin/laptop, unavailable hank/work,
//                   changed xavier/home {unset show}
//   alice's model after the delta equals a fresh full login's flood
//   alice sends initial presence; carol goes dnd live; alice's checkpoint digest = her model
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

template <class Server>
class ChangesWhileAway : public Scenario<Server> {};
TYPED_TEST_SUITE(ChangesWhileAway, Servers, ServerNames);

TYPED_TEST(ChangesWhileAway, DeltaHasExactlyTheChangesAndTheModelEqualsAFreshLogin) {
  const std::string alice = "alice@example.test";
  WorldSpec spec =
      user_with_contacts(alice, {"carol@example.test", "dave@example.test", "erin@example.test",
                                 "gina@example.test", "hank@example.test", "xavier@other.test"});
  mutual(spec, "gina@example.test", "hank@example.test");  // gina witnesses hank's drop
  RPSYNC_SCENARIO_START(spec);
  const auto carol_before = with_caps(shows(Show::kNone, "working"), "C4r0l=");
  const auto xavier_before = shows(Show::kXa, "far away");
  auto carol = this->comes_online("carol@example.test", "phone", carol_before);
  auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kChat));
  auto erin = this->comes_online("erin@example.test", "laptop", shows(Show::kAway));
  auto gina = this->comes_online("gina@example.test", "home", shows(Show::kNone, "unchanged"));
  auto hank = this->comes_online("hank@example.test", "work");
  auto xavier = this->comes_online("xavier@other.test", "home", xavier_before);
  ASSERT_TRUE(carol && dave && erin && gina && hank && xavier);

  // alice's first session.
  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood first = this->flood_of(*a);
  ASSERT_TRUE(first.complete);
  ASSERT_EQ(first.state.size(), 6u) << describe(first.state);
  proto::PresenceState model = first.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  ASSERT_TRUE(a->sends_checkpoint(this->component(), "c1", "e1").ok());
  const proto::SyncKey key = a->key("c1");
  a->closes();

  // While alice is away.
  auto carol_after = carol_before;
  carol_after.status = "in the train \xF0\x9F\x9A\x86 caf\xC3\xA9";  // UTF-8 survives the digest
  ASSERT_TRUE(carol->sends_presence(carol_after));
  auto dave_tablet = with_caps(shows(Show::kDnd, "", -3), "T4bl3t=");
  dave_tablet.photo = "a9993e364706816aba3e25717850c26c9cd0d89d";
  dave_tablet.idle_since = "2026-11-21T20:00:00Z";  // every field, through the real server
  auto dave2 = this->comes_online("dave@example.test", "tablet", dave_tablet);
  ASSERT_TRUE(dave2);
  erin->closes();
  hank->aborts();  // TCP reset: the server still announces hank/work unavailable
  ASSERT_TRUE(gina->receives([](const xml::Element& e) {
    return e.name() == "presence" && e.attr("type") == "unavailable" &&
           e.attr("from") == "hank@example.test/work";
  })) << "the server noticed the reset (and told the component in the same broadcast)";
  auto xavier_after = xavier_before;
  xavier_after.show = Show::kNone;
  ASSERT_TRUE(xavier->sends_presence(xavier_after));
  ASSERT_TRUE(carol->settles() && xavier->settles() && dave->settles());

  // alice comes back: sync first, presence later.
  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  EXPECT_NE(b->stream_id(), key.stream);
  Answer answer = b->sends_sync(this->component(), "s1", key);
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();

  proto::Delta expected;
  expected.changed.push_back(
      proto::make_change("carol@example.test/phone", carol_before, carol_after));
  expected.added.push_back({"dave@example.test/tablet", dave_tablet});
  expected.unavailable.push_back("erin@example.test/laptop");
  expected.unavailable.push_back("hank@example.test/work");
  expected.changed.push_back(
      proto::make_change("xavier@other.test/home", xavier_before, xavier_after));
  expected = sorted(expected);
  const proto::Delta got = sorted(*delta);
  EXPECT_EQ(got.contacts, expected.contacts) << describe(got);
  EXPECT_EQ(got.added, expected.added) << describe(got);
  EXPECT_EQ(got.changed, expected.changed) << describe(got);
  EXPECT_EQ(got.unavailable, expected.unavailable) << describe(got);
  // Field level: carol only `status` set, xavier only `show` unset.
  ASSERT_EQ(got.changed.size(), 2u);
  EXPECT_EQ(got.changed[0].set, proto::bit(proto::Field::kStatus));
  EXPECT_EQ(got.changed[0].unset, 0);
  EXPECT_EQ(got.changed[1].set, 0);
  EXPECT_EQ(got.changed[1].unset, proto::bit(proto::Field::kShow));

  ASSERT_TRUE(proto::apply(model, *delta)) << describe(model) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);

  // The new session holds a key: a checkpoint quoting the sync's id is accepted and
  // describes the state alice now holds.
  Answer c2 = b->sends_checkpoint(this->component(), "c2", "s1");
  ASSERT_TRUE(c2.ok()) << c2.describe();
  auto checkpointed = proto::parse_checkpointed(*c2.payload);
  ASSERT_TRUE(checkpointed.ok());
  EXPECT_EQ(checkpointed->state, proto::digest_of(model));

  // Live: alice announces herself, carol changes while alice watches; the component's
  // view at the next checkpoint equals alice's model with carol's live presence folded in.
  Flood live = this->flood_of(*b);
  ASSERT_TRUE(live.complete);
  EXPECT_EQ(live.state, model) << "the flood after a sync shows the synced state";
  auto carol_live = carol_after;
  carol_live.show = Show::kDnd;
  ASSERT_TRUE(carol->sends_presence(carol_live));
  ASSERT_TRUE(carol->settles());
  auto seen = b->receives([](const xml::Element& e) {
    return e.name() == "presence" && e.attr("from") == "carol@example.test/phone";
  });
  ASSERT_TRUE(seen);
  fold_presence(model, *seen, alice);
  Answer c3 = b->sends_checkpoint(this->component(), "c3", "c2");
  ASSERT_TRUE(c3.ok()) << c3.describe();
  auto live_checkpoint = proto::parse_checkpointed(*c3.payload);
  ASSERT_TRUE(live_checkpoint.ok());
  EXPECT_EQ(live_checkpoint->state, proto::digest_of(model)) << describe(model);

  Flood full = this->fresh_full_login(alice);
  this->report("3 changes while away", std::to_string(delta->items()) + " delta items / " +
                                           std::to_string(answer.bytes) + " B vs full flood " +
                                           std::to_string(full.presences) + " presences / " +
                                           std::to_string(full.bytes) + " B");
  this->expect_component_alive();
}

}  // namespace
}  // namespace rpsync::test::scenario
