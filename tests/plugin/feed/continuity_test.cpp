// SPDX-License-Identifier: MIT
// Group continuity by heartbeat runs on a real redis-server: kept while a peer beats, lost
// when every instance was cut off, and a run ends even when Redis is down at the gap.
#include "tests/plugin/feed/feed_fixture.h"

namespace rpsync::feed {
namespace {

using namespace feedtest;
using namespace std::chrono_literals;

TEST(Feed, GroupContinuityKeptWhileAPeerBeatsLostWhenAllWereCutOff) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  GroupContinuity p(t, "p", "srv", 800), q(t, "q", "srv", 800), other(t, "o", "srv2", 800);
  auto tick = [] { std::this_thread::sleep_for(5ms); };
  ASSERT_TRUE(p.beat().ok());
  tick();
  // A brand-new instance joining while p observes its server: nothing is lost.
  GroupContinuity fresh(t, "n", "srv", 800);
  ASSERT_TRUE(fresh.beat().ok());
  auto joined = fresh.decide();
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->verdict, Verdict::kPending) << "p has not beaten since n started";
  tick();
  ASSERT_TRUE(p.beat().ok());
  joined = fresh.decide();
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->verdict, Verdict::kKept);
  EXPECT_EQ(joined->group_epoch, 0u);
  ASSERT_TRUE(fresh.end_run().ok());
  ASSERT_TRUE(other.beat().ok());
  ASSERT_TRUE(q.beat().ok());
  tick();
  // q's own gap; p keeps observing.
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(p.beat().ok());
  tick();
  auto back = q.beat();
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->new_run);
  EXPECT_TRUE(back->decide);
  auto d = q.decide();
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->verdict, Verdict::kPending) << "p has not beaten since q came back";
  tick();
  ASSERT_TRUE(p.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kKept);
  EXPECT_EQ(d->covered_by, "p");
  EXPECT_EQ(d->group_epoch, 0u);
  back = q.beat();
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->decide) << "settled";
  EXPECT_FALSE(back->new_run);

  // Both cut off at once: nobody covers q's gap, the group epoch rises, p sees it.
  ASSERT_TRUE(p.end_run().ok());
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(other.beat().ok());  // another server's observer does not count
  ASSERT_TRUE(q.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kLost);
  EXPECT_EQ(d->group_epoch, 1u);
  auto pb = p.beat();
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->group_epoch, 1u);

  // A peer that stops beating (crashed) inside the gap: pending until its heartbeat
  // expires (ttl 800 ms), then lost.
  ASSERT_TRUE(p.beat().ok());
  tick();
  ASSERT_TRUE(q.beat().ok());
  tick();
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(p.beat().ok());  // p's last beat, then p dies silently
  tick();
  ASSERT_TRUE(q.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kPending);
  bool lost = false;
  for (int i = 0; i < 150 && !lost; ++i) {  // ~3 s at most; q keeps beating meanwhile
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(q.beat().ok());
    d = q.decide();
    ASSERT_TRUE(d.ok());
    lost = d->verdict == Verdict::kLost;
  }
  EXPECT_TRUE(lost);
  EXPECT_EQ(d->group_epoch, 2u);
}

// end_run() while Redis is unreachable still ends the run: the next beat (Redis back
// within the ttl, heartbeat key still alive) starts a new run and asks for a decision.
TEST(Feed, GroupContinuityRunEndsEvenWhenRedisIsDownAtTheGap) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  GroupContinuity q(t, "q", "srv", 60000);
  ASSERT_TRUE(q.beat().ok());
  ASSERT_TRUE(q.decide().ok());  // q's start settled (first observer: lost)
  auto settled = q.beat();
  ASSERT_TRUE(settled.ok());
  ASSERT_FALSE(settled->decide);
  redis->stop();
  EXPECT_FALSE(q.end_run().ok());
  ASSERT_TRUE(redis->restart());
  auto back = q.beat();
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->new_run) << "the gap is not part of the old run";
  EXPECT_TRUE(back->decide) << "the own gap is judged";
}

}  // namespace
}  // namespace rpsync::feed
