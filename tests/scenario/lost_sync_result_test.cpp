// SPDX-License-Identifier: MIT
// A lost sync result costs nothing: the component keeps the key a sync answered until the
// new session proves it received the result, so the client that never saw the answer
// syncs again with the same key and gets a correct delta.
//
//   alice logs in, sees carol/phone and dave/pc; enables (e1), checkpoints (c1), closes
//   carol changes her status
//   alice reconnects and sends <sync/> with c1; the component answers with a delta, but
//   alice's connection is reset right then: she never applies it and still holds c1
//   dave logs out, erin comes online
//   alice reconnects and sends <sync/> with c1, then closes before reading the answer
//   carol goes dnd
//   alice reconnects and syncs with c1 once more: the delta applied to her state at c1
//   equals a fresh login's view; her checkpoint quoting the sync's id proves the result
//   a sync with c1 now -> unknown-key; the first attempt's key (never proven) still answers
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

template <class Server>
class LostSyncResult : public Scenario<Server> {
 protected:
  // `who` syncs with `key` (request id `id`): the delta, or a test failure.
  std::optional<proto::Delta> syncs(Party& who, const std::string& id, const proto::SyncKey& key) {
    Answer answer = who.sends_sync(this->component(), id, key);
    std::string why;
    auto delta = delta_of(answer, &why);
    EXPECT_TRUE(delta) << id << ": " << why << "\n" << this->world->component().log();
    return delta;
  }
};
TYPED_TEST_SUITE(LostSyncResult, Servers, ServerNames);

TYPED_TEST(LostSyncResult, RetriedSyncWithTheSameKeyGetsACorrectDelta) {
  const std::string alice = "alice@example.test";
  WorldSpec spec =
      user_with_contacts(alice, {"carol@example.test", "dave@example.test", "erin@example.test"});
  spec.rpsync_gate = true;
  RPSYNC_SCENARIO_START(spec);
  const auto carol_before = shows(Show::kNone, "working");
  auto carol = this->comes_online("carol@example.test", "phone", carol_before);
  auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kChat));
  ASSERT_TRUE(carol && dave);

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood first = this->flood_of(*a);
  ASSERT_TRUE(first.complete);
  ASSERT_EQ(first.state.size(), 2u) << describe(first.state);
  const proto::PresenceState at_key = first.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  ASSERT_TRUE(a->sends_checkpoint(this->component(), "c1", "e1").ok());
  const proto::SyncKey key = a->key("c1");
  a->closes();

  ASSERT_TRUE(carol->sends_presence(shows(Show::kNone, "on the train")));
  ASSERT_TRUE(carol->settles());

  // First attempt: answered, then the TCP connection is reset before alice applies it.
  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  auto lost = this->syncs(*b, "s1", key);
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->items(), 1u) << describe(*lost);
  proto::PresenceState after_lost = at_key;
  ASSERT_TRUE(proto::apply(after_lost, *lost));
  const proto::SyncKey lost_key = b->key("s1");
  b->aborts();

  dave->closes();
  auto erin = this->comes_online("erin@example.test", "laptop", shows(Show::kAway));
  ASSERT_TRUE(erin);

  // Second attempt: the sync leaves, alice closes before the answer can arrive.
  auto c = this->logs_in(alice, "phone");
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->sends_iq_only(this->component(), proto::to_xml(proto::Sync{c->stream_id(), key}), "s2"));
  c->closes();

  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "on the train")));
  ASSERT_TRUE(carol->settles() && erin->settles());

  // Third attempt, still with c1: a delta from c1's moment to now.
  auto d = this->logs_in(alice, "phone");
  ASSERT_TRUE(d);
  auto delta = this->syncs(*d, "s3", key);
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->changed.size(), 1u) << describe(*delta);      // carol
  EXPECT_EQ(delta->unavailable.size(), 1u) << describe(*delta);  // dave
  EXPECT_EQ(delta->added.size(), 1u) << describe(*delta);        // erin
  proto::PresenceState model = at_key;
  ASSERT_TRUE(proto::apply(model, *delta)) << describe(model) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);

  // The verification checkpoint quoting the sync's id proves the result: c1 retires.
  Answer proof = d->sends_checkpoint(this->component(), "c3", "s3");
  ASSERT_TRUE(proof.ok()) << proof.describe();
  auto checkpointed = proto::parse_checkpointed(*proof.payload);
  ASSERT_TRUE(checkpointed.ok());
  EXPECT_EQ(checkpointed->state, proto::digest_of(model));
  auto e = this->logs_in(alice, "tablet");
  ASSERT_TRUE(e);
  EXPECT_TRUE(is_error(e->sends_sync(this->component(), "s4", key), AppCondition::kUnknownKey))
      << "the old key retires once the new session proved it received the result";
  // The first attempt's session was never proven; it lives on like any session.
  auto late = this->syncs(*e, "s5", lost_key);
  ASSERT_TRUE(late);
  ASSERT_TRUE(proto::apply(after_lost, *late)) << describe(*late);
  EXPECT_EQ(after_lost, model) << describe(after_lost);
  this->report("lost sync result", "3 syncs with one key: " + std::to_string(lost->items()) +
                                       " item(s) lost, " + std::to_string(delta->items()) +
                                       " item(s) on the retry; then unknown-key");
}

}  // namespace
}  // namespace rpsync::test::scenario
