// SPDX-License-Identifier: MIT
// Delivery against a real redis-server: every instance gets every entry exactly once and
// in order, a refused entry comes again before anything newer, a commit sent twice (by a
// FeedWriter or by a RedisStore retrying after an outage) is applied once.
#include "tests/plugin/feed/feed_fixture.h"

namespace rpsync::feed {
namespace {

using namespace feedtest;
using namespace std::chrono_literals;

TEST(Feed, EveryInstanceAppliesEveryEntryExactlyOnceInOrder) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  for (const char* i : {"a", "b", "w"}) ASSERT_TRUE(FeedReader::prepare(t, i).ok());
  Sink a, b, self;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  FeedReader rb(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  FeedReader rw(t, reader_options("w"), self.executor(), self.apply(), self.gap());
  ra.start();
  rb.start();
  rw.start();
  auto w = writer(t);
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  ASSERT_TRUE(wait_until([&] { return a.count() >= kN && b.count() >= kN; }, 20s))
      << a.count() << " " << b.count();
  std::this_thread::sleep_for(200ms);  // anything extra would show now
  for (Sink* s : {&a, &b}) {
    ASSERT_EQ(s->count(), std::size_t{kN});
    for (int i = 0; i < kN; ++i)
      EXPECT_EQ(s->markers[static_cast<std::size_t>(i)], "n" + std::to_string(i) + "@x/r");
    EXPECT_EQ(std::set<std::string>(s->ids.begin(), s->ids.end()).size(), std::size_t{kN});
    EXPECT_EQ(s->gap_count(), 0u);
  }
  EXPECT_EQ(ra.stats().applied, std::uint64_t{kN});
  EXPECT_EQ(ra.stats().duplicates_by_id + ra.stats().duplicates_by_writer, 0u);
  // The publishing instance's own reader acknowledges its entries without applying them.
  ASSERT_TRUE(wait_until([&] { return rw.stats().own >= kN; }, 10s)) << rw.stats().own;
  EXPECT_EQ(self.count(), 0u);
  auto pending = redis->command({"XPENDING", "fd:{feed}:changes", "a"});
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->elements.empty() ? "0" : pending->elements[0], "0") << "all acknowledged";
}

TEST(Feed, AnEntryTheOwnerRefusedIsDeliveredAgainBeforeAnythingNewer) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  std::mutex mu;
  std::vector<std::string> applied;
  int refusals = 0;
  FeedReader r(
      t, reader_options("a"), [](std::function<void()> f) { f(); },
      [&](const Entry& e) {
        std::lock_guard lock(mu);
        if (marker(e) == "n5@x/r" && refusals < 2) {  // e.g. the owner's store is down
          ++refusals;
          return false;
        }
        applied.push_back(marker(e));
        return true;
      },
      {});
  r.start();
  auto w = writer(t);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return applied.size() >= 20;
      },
      10s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(mu);
  ASSERT_EQ(applied.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(applied[static_cast<std::size_t>(i)], "n" + std::to_string(i) + "@x/r");
  EXPECT_EQ(refusals, 2);
  EXPECT_GE(r.stats().failures, 2u);
  EXPECT_GE(r.stats().redelivered, 2u);
}

TEST(Feed, ACommitSentTwiceIsAppliedOnce) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  Sink a;
  FeedReader r(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  r.start();
  // What a RedisStore re-sends after a commit whose reply was lost: the same commands.
  Publisher p({"w", "gw"}, t.prefix);
  auto cmds = p.commands(presence_of(1), {});
  ASSERT_EQ(cmds.size(), 1u);
  for (const auto& c : {cmds[0], cmds[0], p.commands(presence_of(2), {})[0]}) {
    auto reply = redis->command(c);
    ASSERT_TRUE(reply);
    EXPECT_FALSE(reply->error) << reply->str;
  }
  ASSERT_TRUE(wait_until([&] { return a.count() == 2; }, 5s))
      << a.count() << " applied, " << r.stats().duplicates_by_writer << " by writer, "
      << r.stats().gaps << " gaps, " << r.last_error();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(r.stats().duplicates_by_writer, 1u);
}

TEST(Feed, ARedisStoreCommitRetriedAfterAnOutagePublishesItsEntryOnce) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 300);
  ASSERT_TRUE(FeedReader::prepare(t, "b").ok());
  auto opened = store::RedisStore::open_redis(t, {});
  ASSERT_TRUE(opened.ok());
  auto& st = *opened.value();
  auto publisher = std::make_shared<Publisher>(FeedConfig{"a", "g"}, t.prefix);
  int hook_calls = 0;
  auto hook = commit_hook(publisher, {});
  st.set_commit_hook([&](const core::Batch& b) {
    ++hook_calls;
    return hook(b);
  });
  redis->stop();
  (void)st.write(presence_of(1));  // buffered; Redis is unreachable
  EXPECT_FALSE(st.flush().ok());   // the commit (with its feed entry) fails...
  EXPECT_FALSE(st.flush().ok());   // ...and fails again
  EXPECT_EQ(hook_calls, 1) << "the hook ran once for the mutation, not per attempt";
  ASSERT_TRUE(redis->restart());
  bool flushed = false;
  for (int i = 0; i < 50 && !flushed; ++i) {
    flushed = st.flush().ok();
    if (!flushed) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(flushed);
  EXPECT_EQ(hook_calls, 1);
  EXPECT_EQ(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 1);
  ASSERT_TRUE(st.write(presence_of(2)).ok());
  ASSERT_TRUE(st.flush().ok());
  EXPECT_EQ(hook_calls, 2);
  Sink b;
  FeedReader r(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  r.start();
  ASSERT_TRUE(wait_until([&] { return b.count() == 2; }, 5s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(b.mu);
  EXPECT_EQ(b.markers, (std::vector<std::string>{"n1@x/r", "n2@x/r"}));
}

}  // namespace
}  // namespace rpsync::feed
