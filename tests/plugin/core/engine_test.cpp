// SPDX-License-Identifier: MIT
// Unit tests for the presence state engine, one rule each (see plugin/core/engine.h).
#include "plugin/core/engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rpsync::core {
namespace {

using proto::AppCondition;
using proto::PresenceFields;
using proto::Show;

PresenceFields fields(Show show, std::string status = {}, std::int8_t prio = 0) {
  PresenceFields f;
  f.show = show;
  f.status = std::move(status);
  f.priority = prio;
  return f;
}

class EngineTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'000'000;
  EngineOptions options() {
    EngineOptions o;
    o.lifetime_s = 3600;
    o.max_sessions_per_user = 3;
    o.clock = [this] { return now_; };
    return o;
  }
  Engine e_{options()};

  // alice sees bob and carol.
  void SetUp() override { e_.set_roster("alice@x", {"bob@x", "carol@x"}); }

  proto::SyncKey key(std::string stream, std::string res, std::string last) {
    return {std::move(stream), std::move(res), std::move(last)};
  }
  // Enables alice/phone on stream s1 with iq e1.
  void enable_alice() { ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok()); }
  proto::Delta sync_ok(const proto::SyncKey& k, std::string new_stream = "s2",
                       std::string iq = "y1") {
    auto r = e_.sync("alice@x", new_stream, "phone", iq, k);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : proto::to_string(r.error().app));
    return r.ok() ? r.value() : proto::Delta{};
  }
  AppCondition sync_err(const proto::SyncKey& k, std::string user = "alice@x") {
    auto r = e_.sync(user, "s9", "phone", "y9", k);
    EXPECT_FALSE(r.ok());
    return r.ok() ? AppCondition::kNone : r.error().app;
  }
};

TEST_F(EngineTest, ViewHoldsOnlyVisibleContactsAndDigestMatches) {
  e_.observe_available("bob@x/a", fields(Show::kAway, "out"));
  e_.observe_available("carol@x/b", fields(Show::kNone));
  e_.observe_available("mallory@x/m", fields(Show::kDnd));  // not on alice's roster
  auto v = e_.view("alice@x");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v.at("bob@x/a").status, "out");
  EXPECT_EQ(e_.digest("alice@x"), proto::digest_of(v));
  EXPECT_EQ(e_.digest("alice@x").count(), 2u);
  EXPECT_EQ(e_.digest("nobody@x"), proto::StateDigest{});
}

TEST_F(EngineTest, EnableAnswersLifetimeAndDigestOfView) {
  e_.observe_available("bob@x/a", fields(Show::kChat));
  auto r = e_.enable("alice@x", "s1", "phone", "e1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lifetime, 3600u);
  EXPECT_EQ(r->state, proto::digest_of(e_.view("alice@x")));
}

TEST_F(EngineTest, NothingChangedGivesEmptyDelta) {
  e_.observe_available("bob@x/a", fields(Show::kChat));
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kChat));      // same fields: no change
  e_.observe_available("mallory@x/m", fields(Show::kAway));  // invisible to alice
  auto d = sync_ok(key("s1", "phone", "e1"));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.state, e_.digest("alice@x"));
  EXPECT_EQ(d.lifetime, 3600u);
}

TEST_F(EngineTest, FieldLevelChangeCarriesOnlyDifferingFieldsAndUnsets) {
  PresenceFields before = fields(Show::kAway, "lunch", 5);
  before.caps = proto::Caps{"sha-1", "http://c", "v1"};
  e_.observe_available("bob@x/a", before);
  enable_alice();
  PresenceFields after = before;
  after.show = Show::kNone;  // back to default -> unset
  after.status = "back";     // set
  e_.observe_available("bob@x/a", after);
  auto d = sync_ok(key("s1", "phone", "e1"));
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_TRUE(d.added.empty());
  EXPECT_TRUE(d.unavailable.empty());
  const auto& c = d.changed[0];
  EXPECT_EQ(c.jid, "bob@x/a");
  EXPECT_EQ(c.set, proto::bit(proto::Field::kStatus));
  EXPECT_EQ(c.unset, proto::bit(proto::Field::kShow));
  EXPECT_EQ(c.values.status, "back");
}

TEST_F(EngineTest, NewAndUnavailableResources) {
  e_.observe_available("bob@x/a", fields(Show::kNone));
  enable_alice();
  e_.observe_unavailable("bob@x/a");
  e_.observe_available("bob@x/b", fields(Show::kXa, "zz"));
  e_.observe_available("carol@x/c", fields(Show::kNone));
  e_.observe_available("carol@x/gone", fields(Show::kNone));  // came and went: nothing
  e_.observe_unavailable("carol@x/gone");
  auto d = sync_ok(key("s1", "phone", "e1"));
  ASSERT_EQ(d.unavailable, std::vector<std::string>{"bob@x/a"});
  ASSERT_EQ(d.added.size(), 2u);
  EXPECT_TRUE(d.changed.empty());
  proto::PresenceState model;
  model["bob@x/a"] = fields(Show::kNone);
  ASSERT_TRUE(proto::apply(model, d));
  EXPECT_EQ(model, e_.view("alice@x"));
  EXPECT_EQ(proto::digest_of(model), d.state);
}

TEST_F(EngineTest, BareUnavailableTakesTheWholeContactOffline) {
  e_.observe_available("bob@x/a", fields(Show::kNone));
  e_.observe_available("bob@x/b", fields(Show::kAway));
  e_.observe_available("carol@x/c", fields(Show::kNone));
  enable_alice();
  e_.observe_unavailable("bob@x");
  auto v = e_.view("alice@x");
  EXPECT_EQ(v.size(), 1u);
  EXPECT_TRUE(v.count("carol@x/c"));
  auto d = sync_ok(key("s1", "phone", "e1"));
  EXPECT_EQ(d.unavailable.size(), 2u);
  e_.observe_unavailable("nobody@x");  // unknown: nothing happens
  EXPECT_EQ(e_.view("alice@x").size(), 1u);
}

TEST_F(EngineTest, ChangedAndChangedBackYieldsNothing) {
  e_.observe_available("bob@x/a", fields(Show::kAway, "x"));
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kDnd, "y"));
  e_.observe_unavailable("bob@x/a");
  e_.observe_available("bob@x/a", fields(Show::kAway, "x"));
  EXPECT_TRUE(sync_ok(key("s1", "phone", "e1")).empty());
}

TEST_F(EngineTest, RosterChangesAddAndRemoveContacts) {
  e_.observe_available("bob@x/a", fields(Show::kNone));
  e_.observe_available("dave@x/d", fields(Show::kChat, "hi"));
  enable_alice();
  e_.observe_unavailable("bob@x/a");  // bob went offline, then was removed
  e_.set_roster("alice@x", {"carol@x", "dave@x"});
  auto d = sync_ok(key("s1", "phone", "e1"));
  ASSERT_EQ(d.contacts.size(), 2u);
  int added = 0, removed = 0;
  for (const auto& c : d.contacts) {
    if (c.kind == proto::ContactChange::Kind::kAdded) {
      ++added;
      EXPECT_EQ(c.jid, "dave@x");
    } else {
      ++removed;
      EXPECT_EQ(c.jid, "bob@x");
    }
  }
  EXPECT_EQ(added, 1);
  EXPECT_EQ(removed, 1);
  // The client held bob@x/a at the key's moment: it is listed as unavailable.
  EXPECT_EQ(d.unavailable, std::vector<std::string>{"bob@x/a"});
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].jid, "dave@x/d");
  EXPECT_EQ(d.added[0].fields.status, "hi");
}

TEST_F(EngineTest, KeyNeverOpensAnotherUsersData) {
  e_.set_roster("eve@x", {"bob@x"});
  enable_alice();
  EXPECT_EQ(sync_err(key("s1", "phone", "e1"), "eve@x"), AppCondition::kUnknownKey);
  // alice's key is still intact.
  sync_ok(key("s1", "phone", "e1"));
}

TEST_F(EngineTest, SyncEnablesNewSessionAndItsProofRetiresOldKey) {
  enable_alice();
  sync_ok(key("s1", "phone", "e1"), "s2", "y1");
  ASSERT_TRUE(e_.checkpoint("alice@x", "s2", "phone", "y1", "c1").ok());
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  e_.observe_available("bob@x/a", fields(Show::kNone));
  auto d = sync_ok(key("s2", "phone", "c1"), "s3", "y2");
  EXPECT_EQ(d.added.size(), 1u);
  EXPECT_EQ(sync_err(key("s1", "phone", "wrong")), AppCondition::kUnknownKey);
}

TEST_F(EngineTest, PreviousKeyStaysValidUntilCheckpointProvesNewest) {
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kNone));
  ASSERT_TRUE(e_.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
  e_.observe_available("carol@x/c", fields(Show::kNone));
  ASSERT_TRUE(e_.checkpoint("alice@x", "s1", "phone", "c1", "c2").ok());
  // c2 quoted c1: e1 is retired, c1 (previous) and c2 (newest) remain.
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  auto d = sync_ok(key("s1", "phone", "c1"));
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].jid, "carol@x/c");
}

TEST_F(EngineTest, PreviousKeyAnswersFromItsOwnMoment) {
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kNone));
  ASSERT_TRUE(e_.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
  auto d = sync_ok(key("s1", "phone", "e1"));
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].jid, "bob@x/a");
}

TEST_F(EngineTest, CheckpointErrors) {
  auto r = e_.checkpoint("alice@x", "s1", "phone", "e1", "c1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kNotEnabled);
  enable_alice();
  r = e_.checkpoint("alice@x", "s1", "phone", "nope", "c1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kOutOfOrder);
  EXPECT_EQ(r.error().type, proto::ErrorType::kModify);
  // Another user cannot move alice's session.
  r = e_.checkpoint("eve@x", "s1", "phone", "e1", "c1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kNotEnabled);
}

TEST_F(EngineTest, DisableRetiresKeys) {
  EXPECT_EQ(e_.disable("alice@x", "s1", "phone").error().app, AppCondition::kNotEnabled);
  enable_alice();
  ASSERT_TRUE(e_.disable("alice@x", "s1", "phone").ok());
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kUnknownKey);
}

TEST_F(EngineTest, KeysExpireAfterLifetime) {
  enable_alice();
  now_ += 3600 * 1000 - 1;
  ASSERT_TRUE(e_.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());  // moves the clock
  now_ += 3600 * 1000 - 1;
  EXPECT_EQ(e_.expire(), 0u);
  now_ += 1;
  EXPECT_EQ(sync_err(key("s1", "phone", "c1")), AppCondition::kExpired);
  EXPECT_EQ(e_.stats().sessions, 0u);  // retired with the failure
  ASSERT_TRUE(e_.enable("alice@x", "s5", "phone", "e5").ok());
  now_ += 3600 * 1000;
  EXPECT_EQ(e_.expire(), 1u);
  EXPECT_EQ(sync_err(key("s5", "phone", "e5")), AppCondition::kUnknownKey);
}

TEST_F(EngineTest, GapBreaksContinuityUntilNextCheckpoint) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(e_.enable("alice@x", "t1", "laptop", "f1").ok());
  e_.gap();
  e_.observe_available("bob@x/a", fields(Show::kNone));
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kContinuityLost);
  // The laptop session survived the gap on the client side and checkpoints again:
  // the new moment is after the gap, so it answers.
  ASSERT_TRUE(e_.checkpoint("alice@x", "t1", "laptop", "f1", "f2").ok());
  EXPECT_EQ(sync_err(key("t1", "laptop", "f1")), AppCondition::kContinuityLost);
  ASSERT_TRUE(e_.enable("alice@x", "t1", "laptop", "f3").ok());
  e_.observe_available("carol@x/c", fields(Show::kNone));
  auto r = e_.sync("alice@x", "t2", "laptop", "f4", key("t1", "laptop", "f3"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added.size(), 1u);
}

// An unreadable presence is a local loss: only keys whose view holds the contact fail,
// only while its state is unknown, plus keys taken while it was unknown.
TEST_F(EngineTest, UnknownResourceFailsOnlyViewsHoldingItWhileUnknown) {
  e_.set_roster("dave@x", {"carol@x"});
  e_.observe_available("bob@x/a", fields(Show::kAway, "out"));
  e_.observe_available("carol@x/c", fields(Show::kNone));
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(e_.enable("alice@x", "t1", "laptop", "f1").ok());
  ASSERT_TRUE(e_.enable("dave@x", "d1", "pc", "g1").ok());
  e_.observe_unknown("bob@x/a");
  EXPECT_EQ(e_.unknown_contacts(), 1u);
  // alice's view holds bob: no delta while his state is unknown.
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kContinuityLost);
  // dave does not see bob: not affected.
  auto d = e_.sync("dave@x", "d2", "pc", "g2", key("d1", "pc", "g1"));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());
  // A key taken while bob is unknown records a state the engine never held.
  ASSERT_TRUE(e_.enable("alice@x", "u1", "tablet", "h1").ok());
  // bob's next readable presence: known again.
  e_.observe_available("bob@x/a", fields(Show::kDnd, "busy"));
  EXPECT_EQ(e_.unknown_contacts(), 0u);
  EXPECT_EQ(sync_err(key("u1", "tablet", "h1")), AppCondition::kContinuityLost);
  // A key from before the unknown state answers the exact change.
  auto r = e_.sync("alice@x", "t2", "laptop", "f2", key("t1", "laptop", "f1"));
  ASSERT_TRUE(r.ok()) << proto::to_string(r.error().app);
  ASSERT_EQ(r->changed.size(), 1u);
  EXPECT_EQ(r->state, e_.digest("alice@x"));
}

TEST_F(EngineTest, UnknownResourceIsKnownAgainByItsUnavailable) {
  e_.observe_available("bob@x/a", fields(Show::kAway));
  e_.observe_available("bob@x/b", fields(Show::kAway));
  enable_alice();
  e_.observe_unknown("bob@x/a");
  e_.observe_unknown("bob@x/b");
  e_.observe_unavailable("bob@x/a");
  EXPECT_EQ(e_.unknown_contacts(), 1u) << "bob/b is still unknown";
  e_.observe_unavailable("bob@x");  // a bare unavailable covers every resource
  EXPECT_EQ(e_.unknown_contacts(), 0u);
  auto d = sync_ok(key("s1", "phone", "e1"));
  EXPECT_EQ(d.unavailable.size(), 2u);
}

TEST_F(EngineTest, DeltaThatDoesNotFitLeavesTheKeyValid) {
  e_.observe_available("bob@x/a", fields(Show::kAway));
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kDnd));
  auto r = e_.sync("alice@x", "s2", "phone", "y1", key("s1", "phone", "e1"),
                   [](const proto::Delta&) { return false; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kTooLarge);
  auto d = sync_ok(key("s1", "phone", "e1"));
  EXPECT_EQ(d.changed.size(), 1u) << "the key did not move";
}

TEST_F(EngineTest, SessionsPerUserAreBounded) {
  for (int i = 0; i < 5; ++i) {
    std::string s = "s" + std::to_string(i);
    ASSERT_TRUE(e_.enable("alice@x", s, "r" + std::to_string(i), "e").ok());
  }
  EXPECT_EQ(e_.stats().sessions, 3u);
  EXPECT_EQ(sync_err(key("s0", "r0", "e")), AppCondition::kUnknownKey);
  EXPECT_EQ(sync_err(key("s1", "r1", "e")), AppCondition::kUnknownKey);
  auto r = e_.sync("alice@x", "n", "r4", "y", key("s4", "r4", "e"));
  EXPECT_TRUE(r.ok());
}

TEST_F(EngineTest, TombstonesAndHistoryLiveOnlyWhileKeysNeedThem) {
  e_.observe_available("bob@x/a", fields(Show::kNone));
  e_.observe_unavailable("bob@x/a");
  EXPECT_EQ(e_.stats().resources, 0u);  // no live key: dropped at once
  e_.observe_available("bob@x/a", fields(Show::kNone));
  enable_alice();
  e_.observe_available("bob@x/a", fields(Show::kAway));
  e_.observe_available("bob@x/a", fields(Show::kXa));
  e_.observe_unavailable("bob@x/a");
  auto s = e_.stats();
  EXPECT_EQ(s.tombstones, 1u);
  EXPECT_EQ(s.history_entries, 1u);  // only the state the key saw
  ASSERT_TRUE(e_.disable("alice@x", "s1", "phone").ok());
  s = e_.stats();
  EXPECT_EQ(s.resources, 0u);
  EXPECT_EQ(s.history_entries, 0u);
  EXPECT_EQ(s.live_moments, 0u);
}

TEST_F(EngineTest, OneLongLivedKeyDoesNotPinLaterHistory) {
  enable_alice();  // the old key: its moment predates everything below
  ASSERT_TRUE(e_.enable("alice@x", "t1", "laptop", "f1").ok());
  e_.observe_available("bob@x/a", fields(Show::kNone));
  ASSERT_TRUE(e_.checkpoint("alice@x", "t1", "laptop", "f1", "f2").ok());
  e_.observe_available("bob@x/a", fields(Show::kAway));  // the laptop's moment saw kNone
  e_.observe_unavailable("bob@x/a");
  EXPECT_EQ(e_.stats().tombstones, 1u);
  EXPECT_GE(e_.stats().history_entries, 1u);
  ASSERT_TRUE(e_.disable("alice@x", "t1", "laptop").ok());
  EXPECT_EQ(e_.expire(), 0u);  // sweeps: no live moment saw bob@x/a any more
  EXPECT_EQ(e_.stats().resources, 0u);
  EXPECT_EQ(e_.stats().history_entries, 0u);
  // The old key still answers exactly: bob@x/a was absent then and is absent now.
  EXPECT_TRUE(sync_ok(key("s1", "phone", "e1")).empty());
}

TEST_F(EngineTest, TooLargeWhenDeltaCostsMoreThanFullState) {
  std::vector<std::string> big;
  for (int i = 0; i < 50; ++i) {
    big.push_back("c" + std::to_string(i) + "@x");
    e_.observe_available(big.back() + "/r", fields(Show::kAway, "status text"));
  }
  e_.set_roster("alice@x", big);
  enable_alice();
  e_.set_roster("alice@x", {"bob@x"});  // 50 removals vs a one-contact roster
  EXPECT_EQ(sync_err(key("s1", "phone", "e1")), AppCondition::kTooLarge);
  EXPECT_EQ(e_.stats().sessions, 0u);
}

TEST(EngineLimits, TooLargeWhenOverItemLimit) {
  EngineOptions o;
  o.clock = [] { return std::int64_t{0}; };
  o.limits.max_delta_items = 3;
  Engine e(o);
  std::vector<std::string> roster;
  for (int i = 0; i < 4; ++i) roster.push_back("c" + std::to_string(i) + "@x");
  e.set_roster("u@x", roster);
  ASSERT_TRUE(e.enable("u@x", "s", "r", "i").ok());
  for (const auto& c : roster) e.observe_available(c + "/r", fields(Show::kNone));
  auto r = e.sync("u@x", "s2", "r", "j", {"s", "r", "i"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kTooLarge);
}

TEST_F(EngineTest, RestoreCountsAsGapAndKeepsData) {
  e_.observe_available("bob@x/a", fields(Show::kAway, "x"));
  enable_alice();
  Image img;
  img.epoch = 7;
  img.resources.push_back({"bob@x/a", fields(Show::kAway, "x")});
  img.rosters.push_back({"alice@x", {"bob@x", "carol@x"}});
  img.sessions.push_back({"alice@x", "s1", "phone", {"e1", 7, now_, {}}, std::nullopt});
  Engine e2(options());
  e2.restore(img);
  EXPECT_EQ(e2.stats().epoch, 8u);
  EXPECT_EQ(e2.view("alice@x"), e_.view("alice@x"));
  auto r = e2.sync("alice@x", "s2", "phone", "y", key("s1", "phone", "e1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kContinuityLost);
  auto changes = e2.take_changes();
  ASSERT_FALSE(changes.empty());
  EXPECT_TRUE(std::holds_alternative<PutEpoch>(changes.front()));
}

TEST_F(EngineTest, RestoredSessionCanCheckpointAndThenSync) {
  Image img;
  img.epoch = 1;
  img.rosters.push_back({"alice@x", {"bob@x"}});
  img.sessions.push_back({"alice@x", "s1", "phone", {"e1", 1, now_, {}}, std::nullopt});
  Engine e2(options());
  e2.restore(img);
  ASSERT_TRUE(e2.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
  e2.observe_available("bob@x/a", fields(Show::kNone));
  auto r = e2.sync("alice@x", "s2", "phone", "y", key("s1", "phone", "c1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added.size(), 1u);
}

TEST_F(EngineTest, JournalRecordsEveryDurableChange) {
  (void)e_.take_changes();
  e_.observe_available("bob@x/a", fields(Show::kNone));
  e_.observe_available("bob@x/a", fields(Show::kNone));  // no change, no mutation
  e_.observe_unavailable("bob@x/a");
  enable_alice();
  ASSERT_TRUE(e_.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
  e_.gap();
  auto b = e_.take_changes();
  ASSERT_EQ(b.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<PutResource>(b[0]));
  EXPECT_TRUE(std::holds_alternative<EraseResource>(b[1]));
  EXPECT_TRUE(std::holds_alternative<PutSession>(b[2]));
  const auto& ps = std::get<PutSession>(b[3]).session;
  EXPECT_EQ(ps.newest.id, "c1");
  ASSERT_TRUE(ps.previous.has_value());
  EXPECT_EQ(ps.previous->id, "e1");
  EXPECT_TRUE(std::holds_alternative<PutEpoch>(b[4]));
  EXPECT_TRUE(e_.take_changes().empty());
}

}  // namespace
}  // namespace rpsync::core
