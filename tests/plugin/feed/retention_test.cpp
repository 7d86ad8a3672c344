// SPDX-License-Identifier: MIT
// Retention on a real redis-server: entries trimmed before an instance read them are
// reported as a feed gap, and retention by age trims old entries.
#include "tests/plugin/feed/feed_fixture.h"

namespace rpsync::feed {
namespace {

using namespace feedtest;
using namespace std::chrono_literals;

TEST(Feed, EntriesTrimmedBeforeAnInstanceReadThemAreReportedAsAFeedGap) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "late").ok());  // registered, then away
  auto w = writer(t, "w", "gw", 50);                 // retention: ~50 entries
  constexpr int kN = 1000;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  const long long left = redis->command({"XLEN", "fd:{feed}:changes"})->integer;
  ASSERT_LT(left, kN) << "retention trimmed";
  Sink s;
  FeedReader r(t, reader_options("late"), s.executor(), s.apply(), s.gap());
  r.start();
  ASSERT_TRUE(wait_until([&] { return s.count() == static_cast<std::size_t>(left); }, 10s))
      << s.count() << " of " << left;
  EXPECT_EQ(s.gap_count(), 1u);
  {
    std::lock_guard lock(s.mu);
    EXPECT_NE(s.gaps.front().find("trimmed"), std::string::npos) << s.gaps.front();
    EXPECT_EQ(s.markers.back(), "n" + std::to_string(kN - 1) + "@x/r");
  }
  // An instance that keeps up never sees a gap, whatever the retention.
  Sink s2;
  ASSERT_TRUE(FeedReader::prepare(t, "keeps-up").ok());
  FeedReader r2(t, reader_options("keeps-up"), s2.executor(), s2.apply(), s2.gap());
  r2.start();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(w->publish(presence_of(i)).ok());
    if (i % 20 == 0) wait_until([&] { return s2.count() == static_cast<std::size_t>(i + 1); }, 5s);
  }
  ASSERT_TRUE(wait_until([&] { return s2.count() == 200; }, 10s));
  EXPECT_EQ(s2.gap_count(), 0u);
}

TEST(Feed, RetentionByAgeTrimsOldEntries) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  auto w = FeedWriter::open(t, {"w", "gw", 0, 50});  // no count bound, keep ~50 ms
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE((*w)->publish(presence_of(i)).ok());
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE((*w)->publish(presence_of(300)).ok());
  // Trimming is approximate (whole stream nodes of 100 entries), never exact.
  EXPECT_LT(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 301);
}

}  // namespace
}  // namespace rpsync::feed
