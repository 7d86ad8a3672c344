// SPDX-License-Identifier: MIT
// Scenario 11 (b, d), multi-instance (fixture in multi_instance.h), Redis failing:
//   Redis stops: a request to either instance gets not-ready (wait) within a bounded
//     time; both still answer ping and disco; Redis starts again: enable and sync work
//     without restarting the components
//   Redis is killed (-9) and restarted: an acknowledged checkpoint is still in Redis, and
//     its key still syncs through the other instance
#include "tests/scenario/multi_instance.h"

namespace rpsync::test::scenario::multi {
namespace {

// (b) Redis down: clean not-ready at both, XMPP connections kept, recovery on their own.
TEST_F(MultiInstance, RedisDownMeansNotReadyAtBothThenRecoveryWithoutRestart) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway));
  ASSERT_TRUE(carol);
  auto first = logs_in(kAlice, "phone");
  ASSERT_TRUE(first);
  const proto::SyncKey key = enabled_session(*first, kA, "e1");
  ASSERT_FALSE(key.stream.empty()) << logs();
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1")) << logs();
  first->closes();

  redis->stop();
  auto again = logs_in(kAlice, "phone");
  ASSERT_TRUE(again);
  auto probe = logs_in("probe@example.test", "watch");
  ASSERT_TRUE(probe);
  for (const char* c : {kA, kB}) {
    const auto asked = std::chrono::steady_clock::now();
    Answer refused = until(
        *again, c, std::string("down-") + c + "-",
        [&] {
          return proto::to_xml(proto::Sync{again->stream_id(), key});
        },
        [](const Answer& x) { return x.app() == AppCondition::kNotReady; },
        std::chrono::seconds(10));
    EXPECT_TRUE(is_error(refused, proto::ErrorType::kWait, proto::Condition::kServiceUnavailable))
        << c << ": " << refused.describe() << logs();
    EXPECT_EQ(refused.app(), AppCondition::kNotReady) << c;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(10));
    // Still attached to the server: ping and disco answered through it.
    EXPECT_TRUE(probe->sends_iq(c, "get", ping(), std::string("ping-") + c).ok()) << c;
    EXPECT_TRUE(probe
                    ->sends_iq(c, "get", xml::Element("query", std::string(ns::kDiscoInfo)),
                               std::string("info-") + c)
                    .ok())
        << c;
  }
  // Something changes meanwhile: observed, kept, written when Redis is back.
  auto carol_after = shows(Show::kDnd, "outage");
  ASSERT_TRUE(carol->sends_presence(carol_after));
  ASSERT_TRUE(carol->settles());

  ASSERT_TRUE(redis->restart()) << redis->log();
  // The key from before the outage syncs through B: no restart, no gap.
  Answer answer = syncs_when_ready(*again, kB, key, "up-");
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << logs();
  ASSERT_EQ(delta->changed.size(), 1u) << describe(*delta);
  EXPECT_EQ(delta->changed[0].jid, "carol@example.test/phone");
  // And the new key taken at B moves forward at A, once A's feed reader (back from its
  // backoff) has applied B's session.
  const std::string synced_id = until_id;
  ASSERT_TRUE(log_shows(*a, "sessions.applied origin=B")) << logs();
  Answer checkpoint = until(
      *again, kA, "cp-",
      [&] {
        return proto::to_xml(proto::Checkpoint{again->stream_id(), synced_id});
      },
      // A finds its store back on its own tick (within about a second)
      [](const Answer& x) {
        return x.app() != AppCondition::kOutOfOrder && x.app() != AppCondition::kNotReady;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.describe() << logs();
  EXPECT_TRUE(a->alive() && b->alive());
  for (auto* c : {a.get(), b.get()})
    EXPECT_EQ(c->log().find("service: continuity.gap"), std::string::npos)
        << "the XMPP connection was never lost\n"
        << c->log();
}

// (d) Redis killed (-9) and restarted from its AOF: an acknowledged checkpoint survived,
// and its key syncs through the other instance.
TEST_F(MultiInstance, AcknowledgedCheckpointSurvivesAKilledRedis) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kXa, "zzz"));
  ASSERT_TRUE(carol);
  auto first = logs_in(kAlice, "phone");
  ASSERT_TRUE(first);
  ASSERT_FALSE(enabled_session(*first, kA, "e1").stream.empty()) << logs();
  Answer c1 = first->sends_checkpoint(kA, "c1", "e1");
  ASSERT_TRUE(c1.ok()) << c1.describe();
  const proto::SyncKey key = first->key("c1");
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1", 2)) << logs();
  first->closes();

  redis->kill();
  ASSERT_TRUE(redis->restart()) << redis->log();
  auto row = redis->command({"HGETALL", "rpsync:{u:" + kAlice + "}:sess"});
  ASSERT_TRUE(row && !row->error);
  std::string stored;
  for (const auto& e : row->elements) stored += e + " ";
  EXPECT_NE(stored.find("c1"), std::string::npos) << "the checkpoint is in the AOF: " << stored;

  auto carol_after = shows(Show::kChat, "awake");
  ASSERT_TRUE(carol->sends_presence(carol_after));
  ASSERT_TRUE(carol->settles());
  auto again = logs_in(kAlice, "phone");
  ASSERT_TRUE(again);
  Answer answer = syncs_when_ready(*again, kB, key, "s-");
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << logs();
  ASSERT_EQ(delta->changed.size(), 1u) << describe(*delta);
  EXPECT_EQ(delta->changed[0].jid, "carol@example.test/phone");
  for (auto* c : {a.get(), b.get()})
    EXPECT_EQ(c->log().find("feed: gap.detected"), std::string::npos)
        << "the feed lost nothing with the AOF\n"
        << c->log();
}

}  // namespace
}  // namespace rpsync::test::scenario::multi
