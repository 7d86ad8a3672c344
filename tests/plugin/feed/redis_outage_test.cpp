// SPDX-License-Identifier: MIT
// Redis itself going away: killed or shut down and restarted with its AOF loses nothing
// acknowledged; while it is down every feed call fails (not-ready where a stanza is
// answered) and everything recovers by itself when it is back.
#include "tests/plugin/feed/feed_fixture.h"

namespace rpsync::feed {
namespace {

using namespace feedtest;
using namespace std::chrono_literals;

// ---- Redis itself killed and restarted ----

// Redis goes away mid-stream (SIGKILL, or a clean SHUTDOWN) and comes back with its AOF.
void redis_restart_scenario(bool hard) {
  auto redis = start_redis();  // appendonly yes, appendfsync always
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 500);
  for (const char* i : {"a", "b"}) ASSERT_TRUE(FeedReader::prepare(t, i).ok());
  Sink a, b;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  FeedReader rb(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  ra.start();
  rb.start();
  auto w = writer(t);
  constexpr int kN = 400;
  std::set<std::string> acknowledged;  // markers whose publish (or a later one) succeeded
  std::vector<std::string> unsure;     // published in a call that failed: sent again later
  int failures = 0;
  for (int i = 0; i < kN; ++i) {
    if (i == kN / 2) {
      if (hard)
        redis->kill();  // SIGKILL while readers are reading and acknowledging
      else
        redis->stop();
      auto r = w->publish(presence_of(i));
      EXPECT_FALSE(r.ok());
      if (!r.ok()) {
        EXPECT_EQ(proto::to_stanza_error(r.status()).app, proto::AppCondition::kNotReady);
      }
      unsure.push_back("n" + std::to_string(i) + "@x/r");
      ASSERT_TRUE(redis->restart());
      continue;
    }
    const std::string mk = "n" + std::to_string(i) + "@x/r";
    bool ok = false;
    for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
      ok = w->publish(presence_of(i)).ok();
      if (!ok) {
        ++failures;
        std::this_thread::sleep_for(20ms);
      }
    }
    ASSERT_TRUE(ok) << "Redis did not come back";
    acknowledged.insert(mk);
    for (auto& u : unsure) acknowledged.insert(u);  // re-sent first by this call
    unsure.clear();
  }
  ASSERT_TRUE(wait_until(
      [&] { return a.count() >= acknowledged.size() && b.count() >= acknowledged.size(); }, 20s))
      << a.count() << " " << b.count() << " of " << acknowledged.size();
  std::this_thread::sleep_for(300ms);
  for (Sink* s : {&a, &b}) {
    std::lock_guard lock(s->mu);
    std::map<std::string, int> times;
    for (const auto& m : s->markers) ++times[m];
    for (const auto& m : acknowledged) EXPECT_EQ(times[m], 1) << m;
    EXPECT_EQ(s->markers.size(), acknowledged.size());
    EXPECT_TRUE(s->gaps.empty()) << s->gaps.front();
  }
  EXPECT_TRUE(ra.ready()) << ra.last_error();
  std::printf(
      "[ figures  ] %zu entries acknowledged across a %s of Redis; reader a: "
      "%llu failures retried, %llu duplicates dropped by id, %llu by writer id\n",
      acknowledged.size(), hard ? "kill -9" : "shutdown",
      static_cast<unsigned long long>(ra.stats().failures),
      static_cast<unsigned long long>(ra.stats().duplicates_by_id),
      static_cast<unsigned long long>(ra.stats().duplicates_by_writer));
}

TEST(Feed, RedisKilledAndRestartedWithAofLosesNothingAcknowledged) {
  REQUIRE_REDIS_SERVER();
  redis_restart_scenario(true);
}

TEST(Feed, RedisShutDownAndRestartedLosesNothingAcknowledged) {
  REQUIRE_REDIS_SERVER();
  redis_restart_scenario(false);
}

TEST(Feed, RedisDownGivesNotReadyThenEverythingRecoversByItself) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 300);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  Sink a;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  ra.start();
  auto w = writer(t);
  GroupContinuity hb(t, "a", "g", 5000);
  ASSERT_TRUE(w->publish(presence_of(0)).ok());
  ASSERT_TRUE(wait_until([&] { return a.count() == 1 && ra.ready(); }, 5s));

  redis->stop();
  auto p = w->publish(presence_of(1));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(proto::to_stanza_error(p.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(p.status().message().find("feed: redis 127.0.0.1"), std::string::npos)
      << p.status().message();
  auto prep = FeedReader::prepare(t, "z");
  ASSERT_FALSE(prep.ok());
  EXPECT_EQ(proto::to_stanza_error(prep.status()).app, proto::AppCondition::kNotReady);
  auto beat = hb.beat();
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(proto::to_stanza_error(beat.status()).app, proto::AppCondition::kNotReady);
  ASSERT_TRUE(wait_until([&] { return !ra.ready(); }, 5s));
  EXPECT_NE(ra.last_error().find("feed:"), std::string::npos) << ra.last_error();

  ASSERT_TRUE(redis->restart());
  bool published = false;
  for (int i = 0; i < 100 && !published; ++i) {
    published = w->publish(presence_of(2)).ok();
    if (!published) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(published);
  ASSERT_TRUE(wait_until([&] { return a.count() == 3 && ra.ready(); }, 10s))
      << a.count() << " " << ra.last_error();
  {
    std::lock_guard lock(a.mu);
    EXPECT_EQ(a.markers, (std::vector<std::string>{"n0@x/r", "n1@x/r", "n2@x/r"}))
        << "the failed publish was sent again, first, by the next one";
  }
  EXPECT_TRUE(hb.beat().ok());
  EXPECT_GT(ra.stats().failures, 0u);
}

}  // namespace
}  // namespace rpsync::feed
