// SPDX-License-Identifier: MIT
// A gap closed per user (Engine::close_gap(), GapCoverage): keys survive a reconnect or a
// restart when every contact of the user's view is on a domain whose presence was
// re-established, and their deltas are exact; every other key fails with continuity-lost.
#include "plugin/core/gap_coverage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/core/engine.h"
#include "protocol/state.h"
#include "tests/plugin/core/presence_fields.h"

namespace rpsync::core {
namespace {

using proto::AppCondition;
using proto::PresenceFields;
using proto::Show;

using testing::fields;

const GapCoverage::Domains kLocal{"x", "y"};  // the served hosts, both witnessed

TEST(GapCoverage, ADomainMustBeCoveredAtEveryGapSinceTheMoment) {
  GapCoverage c;
  EXPECT_TRUE(c.covered_since("a@remote", 0));  // no gap yet
  c.close({"x"});
  EXPECT_TRUE(c.covered_since("a@x", 0));
  EXPECT_TRUE(c.covered_since("x", 0));  // a bare domain contact
  EXPECT_FALSE(c.covered_since("a@y", 0));
  EXPECT_FALSE(c.covered_since("a@remote", 0));
  c.close({"y"});                           // x not witnessed this time
  EXPECT_FALSE(c.covered_since("a@x", 0));  // uncovered at gap 2
  EXPECT_FALSE(c.covered_since("a@y", 0));  // uncovered at gap 1
  EXPECT_TRUE(c.covered_since("a@y", 1));   // a moment taken after gap 1
  EXPECT_FALSE(c.covered_since("a@x", 1));
  EXPECT_TRUE(c.covered_since("a@remote", 2));  // taken after the last gap
  c.close({"x", "y"});
  EXPECT_TRUE(c.covered_since("a@x", 2));
  EXPECT_FALSE(c.covered_since("a@remote", 2));
}

class CloseGapTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'000'000;
  EngineOptions options() {
    EngineOptions o;
    o.lifetime_s = 3600;
    o.clock = [this] { return now_; };
    return o;
  }
  Engine e_{options()};

  // alice sees bob@x and carol@y (two served hosts); dave sees bob@x and eve@remote.
  void SetUp() override {
    e_.set_roster("alice@x", {"bob@x", "carol@y"});
    e_.set_roster("dave@x", {"bob@x", "eve@remote"});
    e_.observe_available("bob@x/a", fields(Show::kAway, "lunch"));
    e_.observe_available("carol@y/b", fields(Show::kNone));
    e_.observe_available("eve@remote/c", fields(Show::kDnd));
    ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
    ASSERT_TRUE(e_.enable("dave@x", "s1", "pc", "e1").ok());
  }
  // Re-learning after a reconnect: what the server re-sends (`resent`) and nothing else.
  void relearn(const std::vector<std::pair<std::string, PresenceFields>>& resent) {
    e_.begin_resync();
    for (const auto& [jid, f] : resent) e_.observe_available(jid, f);
    e_.end_resync();
  }
};

TEST_F(CloseGapTest, CoveredUserGetsTheExactDeltaOfTheGap) {
  const proto::PresenceState before = e_.view("alice@x");
  e_.observe_available("bob@x/a", fields(Show::kNone, "back"));  // before the gap
  // The gap: carol went offline and bob/a changed again, unseen; bob/z came.
  relearn({{"bob@x/a", fields(Show::kXa, "gone fishing")}, {"bob@x/z", fields(Show::kChat)}});
  const auto decision = e_.close_gap(kLocal);
  EXPECT_EQ(decision.kept, 1u);  // alice's
  EXPECT_EQ(decision.lost, 1u);  // dave's: eve is remote
  EXPECT_EQ(decision.users_uncovered, 1u);
  auto r = e_.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(r.ok()) << proto::to_string(r.error().app);
  proto::PresenceState client = before;
  ASSERT_TRUE(proto::apply(client, *r));
  EXPECT_EQ(client, e_.view("alice@x"));
  EXPECT_EQ(client.size(), 2u);  // bob/a and bob/z
  EXPECT_EQ(r->unavailable, std::vector<std::string>{"carol@y/b"});
}

TEST_F(CloseGapTest, RemoteContactFailsOnlyThatUser) {
  relearn({{"bob@x/a", fields(Show::kAway, "lunch")}, {"carol@y/b", fields(Show::kNone)}});
  e_.close_gap(kLocal);
  auto lost = e_.sync("dave@x", "s2", "pc", "y1", {"s1", "pc", "e1"});
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().app, AppCondition::kContinuityLost);
  auto kept = e_.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->empty());
}

TEST_F(CloseGapTest, AHostWithoutTheWitnessFailsItsContactsUsers) {
  relearn({{"bob@x/a", fields(Show::kAway, "lunch")}, {"carol@y/b", fields(Show::kNone)}});
  const auto decision = e_.close_gap({"x"});  // y's re-send was not witnessed
  EXPECT_EQ(decision.kept, 0u);
  EXPECT_EQ(decision.users_uncovered, 2u);
  auto r = e_.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kContinuityLost);
}

TEST_F(CloseGapTest, RosterAtSyncIsCheckedToo) {
  relearn({{"bob@x/a", fields(Show::kAway, "lunch")}, {"carol@y/b", fields(Show::kNone)}});
  ASSERT_EQ(e_.close_gap(kLocal).kept, 1u);
  e_.set_roster("alice@x", {"bob@x", "carol@y", "eve@remote"});  // fetched at the sync
  auto r = e_.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kContinuityLost);
}

TEST_F(CloseGapTest, KeysTakenAfterTheGapAreNotAffected) {
  relearn({{"bob@x/a", fields(Show::kAway, "lunch")}});
  e_.close_gap(kLocal);
  ASSERT_TRUE(e_.enable("dave@x", "s3", "pc", "e3").ok());
  e_.observe_unavailable("bob@x/a");
  auto r = e_.sync("dave@x", "s4", "pc", "y4", {"s3", "pc", "e3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unavailable, std::vector<std::string>{"bob@x/a"});
}

TEST_F(CloseGapTest, RestartReadoptsAndThenDecidesPerUser) {
  // The store image as the component left it (SIGKILL: what was durable).
  Image img;
  img.epoch = e_.stats().epoch;
  img.resources = {{"bob@x/a", fields(Show::kAway, "lunch")},
                   {"carol@y/b", fields(Show::kNone)},
                   {"eve@remote/c", fields(Show::kDnd)}};
  img.rosters = {{"alice@x", {"bob@x", "carol@y"}}, {"dave@x", {"bob@x", "eve@remote"}}};
  img.sessions = {{"alice@x", "s1", "phone", {"e1", 1, now_, e_.digest("alice@x")}, {}},
                  {"dave@x", "s1", "pc", {"e1", 1, now_, e_.digest("dave@x")}, {}},
                  // a key whose client state the image does not hold
                  {"frank@x", "s1", "pc", {"e1", 1, now_, proto::StateDigest{}}, {}}};
  img.rosters.push_back({"frank@x", {"bob@x"}});
  const proto::PresenceState before = e_.view("alice@x");
  Engine e2(options());
  e2.restore(img);
  EXPECT_EQ(e2.readopt_restored(), 2u);  // alice's and dave's; frank's digest differs
  e2.begin_resync();
  e2.observe_available("carol@y/b", fields(Show::kAway, "meeting"));  // downtime change
  e2.end_resync();                                                    // bob went offline
  const auto decision = e2.close_gap(kLocal);
  EXPECT_EQ(decision.kept, 1u);
  EXPECT_EQ(decision.lost, 1u);
  auto r = e2.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(r.ok()) << proto::to_string(r.error().app);
  proto::PresenceState client = before;
  ASSERT_TRUE(proto::apply(client, *r));
  EXPECT_EQ(client, e2.view("alice@x"));
  EXPECT_EQ(r->state, proto::digest_of(client));
  for (const char* user : {"dave@x", "frank@x"}) {
    auto f = e2.sync(user, "s2", "pc", "y1", {"s1", "pc", "e1"});
    ASSERT_FALSE(f.ok()) << user;
    EXPECT_EQ(f.error().app, AppCondition::kContinuityLost) << user;
  }
}

TEST_F(CloseGapTest, AnInvalidatedKeyIsJournaledWithoutItsDigest) {
  (void)e_.take_changes();
  relearn({{"bob@x/a", fields(Show::kAway, "lunch")}, {"carol@y/b", fields(Show::kNone)}});
  e_.close_gap(kLocal);
  bool dave_put = false;
  for (const auto& m : e_.take_changes())
    if (const auto* p = std::get_if<PutSession>(&m); p && p->session.user == "dave@x") {
      dave_put = true;
      EXPECT_FALSE(p->session.newest.digest.has_value());
    }
  EXPECT_TRUE(dave_put);
}

}  // namespace
}  // namespace rpsync::core
