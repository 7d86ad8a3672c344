// SPDX-License-Identifier: MIT
// Scenario 2: a checkpoint moves the key forward; the key that survives a graceful logout
// is the checkpoint sent just before </stream:stream>, the key that survives a TCP abort
// is the last transaction that completed (and, until proven seen, the one before it).
//
//   alice enables (e1), checkpoints (c1 prev e1), checkpoints (c2 prev c1), closes
//   alice reconnects: sync with e1 -> unknown-key; sync with c2 -> empty delta
//
//   alice enables (e1), checkpoints (c1 prev e1), her TCP connection is reset
//   alice reconnects as if c1's result was lost: sync with e1 -> empty delta (new key s1)
//   alice checkpoints (c2 prev s1), her TCP connection is reset
//   alice reconnects: sync with c1 (retired by the sync) -> unknown-key; sync with c2 -> delta
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

template <class Server>
class CheckpointAndDisconnect : public Scenario<Server> {
 protected:
  const std::string alice = "alice@example.test";
  std::unique_ptr<Party> carol;
  std::unique_ptr<Party> dave;
  proto::PresenceState model;

  void SetUp() override {
    RPSYNC_SCENARIO_START(user_with_contacts(alice, {"carol@example.test", "dave@example.test"}));
    carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "lunch"));
    dave = this->comes_online("dave@example.test", "pc");
    ASSERT_TRUE(carol && dave);
  }

  // alice logs in, sees the flood (her model) and enables with id e1.
  std::unique_ptr<Party> alice_logs_in_and_enables() {
    auto a = this->logs_in(alice, "phone");
    if (!a) return a;
    Flood flood = this->flood_of(*a);
    EXPECT_TRUE(flood.complete);
    model = flood.state;
    EXPECT_EQ(model.size(), 2u) << describe(model);
    Answer enabled = a->sends_enable(this->component(), "e1");
    EXPECT_TRUE(enabled.ok()) << enabled.describe();
    return a;
  }

  void expect_checkpointed(const Answer& answer) {
    ASSERT_TRUE(answer.ok()) << answer.describe();
    ASSERT_TRUE(answer.payload);
    auto c = proto::parse_checkpointed(*answer.payload);
    ASSERT_TRUE(c.ok()) << c.error().text;
    EXPECT_EQ(c->state, proto::digest_of(model));
  }

  void expect_empty_delta(const Answer& answer) {
    std::string why;
    auto d = delta_of(answer, &why);
    ASSERT_TRUE(d) << why << "\n" << this->world->component().log();
    EXPECT_TRUE(d->empty()) << describe(*d);
    EXPECT_EQ(d->state, proto::digest_of(model));
  }
};
TYPED_TEST_SUITE(CheckpointAndDisconnect, Servers, ServerNames);

TYPED_TEST(CheckpointAndDisconnect, GracefulLogoutKeyIsTheCheckpointBeforeClosing) {
  auto a = this->alice_logs_in_and_enables();
  ASSERT_TRUE(a);
  this->expect_checkpointed(a->sends_checkpoint(this->component(), "c1", "e1"));
  EXPECT_TRUE(is_error(a->sends_checkpoint(this->component(), "cx", "not-my-last"),
                       AppCondition::kOutOfOrder));
  this->expect_checkpointed(a->sends_checkpoint(this->component(), "c2", "c1"));
  const proto::SyncKey before_e1 = a->key("e1");
  const proto::SyncKey before_c2 = a->key("c2");
  a->closes();

  auto again = this->logs_in(this->alice, "phone");
  ASSERT_TRUE(again);
  EXPECT_NE(again->stream_id(), before_c2.stream);
  EXPECT_TRUE(
      is_error(again->sends_sync(this->component(), "s1", before_e1), AppCondition::kUnknownKey));
  Answer answer = again->sends_sync(this->component(), "s2", before_c2);
  this->expect_empty_delta(answer);
  this->report("2 graceful logout", "key c2 -> empty delta " + std::to_string(answer.bytes) +
                                        " B; key e1 (moved past) -> unknown-key");
}

TYPED_TEST(CheckpointAndDisconnect, AbruptDropKeepsTheLastCompletedKeyAndTheOneBefore) {
  auto a = this->alice_logs_in_and_enables();
  ASSERT_TRUE(a);
  this->expect_checkpointed(a->sends_checkpoint(this->component(), "c1", "e1"));
  const proto::SyncKey first_e1 = a->key("e1");
  const proto::SyncKey first_c1 = a->key("c1");
  a->aborts();

  // The client never saw c1's result: it quotes e1, which the component still holds.
  auto second = this->logs_in(this->alice, "phone");
  ASSERT_TRUE(second);
  Answer s1 = second->sends_sync(this->component(), "s1", first_e1);
  this->expect_empty_delta(s1);
  EXPECT_TRUE(this->flood_of(*second).complete);
  this->expect_checkpointed(second->sends_checkpoint(this->component(), "c2", "s1"));
  const proto::SyncKey second_c2 = second->key("c2");
  second->aborts();

  auto third = this->logs_in(this->alice, "phone");
  ASSERT_TRUE(third);
  EXPECT_TRUE(
      is_error(third->sends_sync(this->component(), "s2", first_c1), AppCondition::kUnknownKey))
      << "the first session's keys are retired by the successful sync";
  Answer s3 = third->sends_sync(this->component(), "s3", second_c2);
  this->expect_empty_delta(s3);
  this->report("2 abrupt disconnect", "previous key e1 -> empty delta " + std::to_string(s1.bytes) +
                                          " B; last key c2 -> " + std::to_string(s3.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
