// SPDX-License-Identifier: MIT
// Scenario 11 (a), multi-instance (fixture in multi_instance.h): alice enables through A;
// her contacts change; she reconnects and syncs through B: B answers the delta, and her
// model after it equals a fresh login.
#include "tests/scenario/multi_instance.h"

namespace rpsync::test::scenario::multi {
namespace {

// (a) A key enabled at one instance syncs at the other.
TEST_F(MultiInstance, EnableThroughASyncThroughBGivesTheExactDelta) {
  const auto carol_before = shows(Show::kAway, "lunch");
  auto carol = comes_online("carol@example.test", "phone", carol_before);
  auto erin = comes_online("erin@example.test", "laptop");
  ASSERT_TRUE(carol && erin);

  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kA, "e1", 2, model);
  ASSERT_FALSE(key.stream.empty());
  // B adopts the session as answerable: its view equals alice's at e1. (A change landing
  // at B before the feed entry would make it unanswerable there: continuity-lost, the
  // documented limit, not what this scenario is about.)
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1")) << logs();

  // While alice is away: carol changes, dave arrives, erin leaves.
  auto carol_after = carol_before;
  carol_after.show = Show::kDnd;
  ASSERT_TRUE(carol->sends_presence(carol_after));
  auto dave = comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  ASSERT_TRUE(dave);
  erin->closes();
  ASSERT_TRUE(carol->settles() && dave->settles());

  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  expect_carol_changed_dave_came_erin_left(*delta);

  // The key the sync at B gave moves forward at A, once A applied the sync's feed entry
  // (a checkpoint reaching A before it would be refused: the documented routing limit).
  // Whether A could answer a sync on it depends on whether erin's unavailable, sent just
  // before, had reached A too when the entry did (a race of ~0.1 s the digests catch); the
  // checkpoint's digest shows A's view once it has.
  ASSERT_TRUE(log_shows(*a, "sessions.applied origin=B")) << logs();
  Answer checkpoint = until(
      *again, kA, "cp",
      [&] {
        return proto::to_xml(proto::Checkpoint{again->stream_id(), "s1"});
      },
      [](const Answer& x) { return x.app() != AppCondition::kOutOfOrder; },
      std::chrono::seconds(5));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.describe() << logs();
  auto checkpointed = proto::parse_checkpointed(*checkpoint.payload);
  ASSERT_TRUE(checkpointed.ok());
  EXPECT_EQ(checkpointed->state, proto::digest_of(model)) << "A's view equals alice's model";
}

}  // namespace
}  // namespace rpsync::test::scenario::multi
