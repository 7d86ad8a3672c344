// SPDX-License-Identifier: MIT
// A lost sync result costs nothing: the key a sync answered stays held until the new
// session proves it received the result (a checkpoint quoting the sync's key as prev, or a
// sync with the new key); a retried sync with the old key gets a correct delta.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>
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

proto::SyncKey key(std::string stream, std::string res, std::string last) {
  return {std::move(stream), std::move(res), std::move(last)};
}

// Folds journaled mutations into a store image (what a store would hold).
struct ImageFold {
  std::map<std::string, SessionRecord> sessions;
  std::map<std::string, std::vector<std::string>> rosters;
  std::map<std::string, proto::PresenceFields> resources;
  std::uint64_t epoch = 0;
  void add(const Batch& b) {
    for (const Mutation& m : b) {
      if (const auto* p = std::get_if<PutSession>(&m))
        sessions[p->session.user + "|" + p->session.stream + "|" + p->session.resource] =
            p->session;
      else if (const auto* e = std::get_if<EraseSession>(&m))
        sessions.erase(e->user + "|" + e->stream + "|" + e->resource);
      else if (const auto* r = std::get_if<PutRoster>(&m))
        rosters[r->user] = r->contacts;
      else if (const auto* pr = std::get_if<PutResource>(&m))
        resources[pr->jid] = pr->fields;
      else if (const auto* er = std::get_if<EraseResource>(&m))
        resources.erase(er->jid);
      else if (const auto* ep = std::get_if<PutEpoch>(&m))
        epoch = ep->epoch;
    }
  }
  Image image() const {
    Image img;
    img.epoch = epoch;
    for (const auto& [k, s] : sessions) img.sessions.push_back(s);
    for (const auto& [u, c] : rosters) img.rosters.push_back({u, c});
    for (const auto& [j, f] : resources) img.resources.push_back({j, f});
    return img;
  }
};

class LostSyncTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'000'000;
  EngineOptions options(std::size_t max_sessions = 3) {
    EngineOptions o;
    o.lifetime_s = 3600;
    o.max_sessions_per_user = max_sessions;
    o.clock = [this] { return now_; };
    return o;
  }
  Engine e_{options()};

  void SetUp() override {
    e_.set_roster("alice@x", {"bob@x", "carol@x"});
    e_.observe_available("bob@x/a", fields(Show::kAway));
  }
  proto::Result<proto::Delta> sync(Engine& e, const proto::SyncKey& k, std::string stream,
                                   std::string iq, std::string resource = "phone") {
    return e.sync("alice@x", stream, resource, iq, k);
  }
  AppCondition sync_err(Engine& e, const proto::SyncKey& k) {
    auto r = e.sync("alice@x", "s9", "phone", "y9", k);
    return r.ok() ? AppCondition::kNone : r.error().app;
  }
  bool checkpoint(Engine& e, std::string stream, std::string prev, std::string iq) {
    return e.checkpoint("alice@x", stream, "phone", prev, iq).ok();
  }
};

TEST_F(LostSyncTest, RetriedSyncGetsTheSameDeltaAsTheLostOne) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  const proto::PresenceState at_key = e_.view("alice@x");
  e_.observe_available("bob@x/a", fields(Show::kDnd, "busy"));
  e_.observe_available("carol@x/c", fields(Show::kNone));
  auto first = sync(e_, key("s1", "phone", "e1"), "s2", "y1");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items(), 2u);
  // The result never arrived: the client still holds e1 and retries from a new stream.
  auto retry = sync(e_, key("s1", "phone", "e1"), "s3", "y2");
  ASSERT_TRUE(retry.ok()) << proto::to_string(retry.error().app);
  EXPECT_EQ(*retry, *first);
  // More changes before a third attempt: the delta is still from the old key's moment and
  // leads to exactly the view a fresh login would see.
  e_.observe_unavailable("bob@x/a");
  auto third = sync(e_, key("s1", "phone", "e1"), "s4", "y3");
  ASSERT_TRUE(third.ok());
  proto::PresenceState state = at_key;
  ASSERT_TRUE(proto::apply(state, *third));
  EXPECT_EQ(state, e_.view("alice@x"));
  EXPECT_EQ(proto::digest_of(state), third->state);
}

TEST_F(LostSyncTest, CheckpointQuotingTheSyncsKeyRetiresTheOldKey) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s3", "y2").ok());
  // The second attempt's result arrived; its verification checkpoint proves it.
  ASSERT_TRUE(checkpoint(e_, "s3", "y2", "c1"));
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  // The first attempt's session was never proven: it lives on like any session.
  e_.observe_available("carol@x/c", fields(Show::kNone));
  auto other = sync(e_, key("s2", "phone", "y1"), "s5", "y5");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->added.size(), 1u);
  // And the proven session keeps both of its keys by the checkpoint rule.
  EXPECT_TRUE(sync(e_, key("s3", "phone", "y2"), "s6", "y6").ok());
}

TEST_F(LostSyncTest, TheOldStreamCannotCheckpointOrDisableWhileItsKeyIsHeld) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  auto r = e_.checkpoint("alice@x", "s1", "phone", "e1", "c1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kNotEnabled);
  EXPECT_FALSE(e_.disable("alice@x", "s1", "phone").ok());
  // Refused, they moved nothing: the held key still answers a retried sync.
  EXPECT_TRUE(sync(e_, key("s1", "phone", "e1"), "s3", "y2").ok());
}

TEST_F(LostSyncTest, SyncWithTheNewKeyProvesTheResultToo) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  // The client saved the new key without checkpointing, and reconnects again.
  ASSERT_TRUE(sync(e_, key("s2", "phone", "y1"), "s3", "y2").ok());
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  // The key it just used stays until s3 proves in turn.
  EXPECT_TRUE(sync(e_, key("s2", "phone", "y1"), "s4", "y3").ok());
  EXPECT_TRUE(checkpoint(e_, "s4", "y3", "c1"));
  EXPECT_EQ(sync_err(e_, key("s2", "phone", "y1")), AppCondition::kUnknownKey);
}

TEST_F(LostSyncTest, FailedSyncStillRetiresTheKeyItQuoted) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  e_.gap();
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kContinuityLost);
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  EXPECT_EQ(sync_err(e_, key("s2", "phone", "y1")), AppCondition::kContinuityLost);
  EXPECT_EQ(e_.stats().sessions, 0u);
}

TEST_F(LostSyncTest, SyncOnTheOldSessionsOwnStreamKeepsTheKeyAsPrevious) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s1", "y1").ok());
  EXPECT_EQ(e_.stats().sessions, 1u);
  e_.observe_available("carol@x/c", fields(Show::kNone));
  auto retry = sync(e_, key("s1", "phone", "e1"), "s1", "y2");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->added.size(), 1u);
  ASSERT_TRUE(checkpoint(e_, "s1", "y2", "c1"));
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
}

TEST_F(LostSyncTest, JournalKeepsTheOldSessionAndErasesItOnProof) {
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  (void)e_.take_changes();
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  Batch b = e_.take_changes();
  ASSERT_EQ(b.size(), 1u);
  const SessionRecord& rec = std::get<PutSession>(b[0]).session;
  EXPECT_EQ(rec.stream, "s2");
  ASSERT_TRUE(rec.newest.retires.has_value());
  EXPECT_EQ(*rec.newest.retires, (KeyRef{"s1", "phone", "e1"}));
  ASSERT_TRUE(checkpoint(e_, "s2", "y1", "c1"));
  b = e_.take_changes();
  ASSERT_EQ(b.size(), 2u);
  const auto& erased = std::get<EraseSession>(b[0]);
  EXPECT_EQ(erased.stream, "s1");
  const SessionRecord& moved = std::get<PutSession>(b[1]).session;
  EXPECT_FALSE(moved.newest.retires.has_value());
  ASSERT_TRUE(moved.previous.has_value());
  EXPECT_FALSE(moved.previous->retires.has_value());
}

TEST_F(LostSyncTest, RestartBetweenResultAndProofKeepsThePendingKey) {
  ImageFold store;
  store.add(e_.take_changes());
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  e_.observe_available("carol@x/c", fields(Show::kNone));
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  store.add(e_.take_changes());
  // Restart: both keys are restored; with the view unchanged since the old key's moment
  // would be needed for a delta, readopt takes only moments whose digest equals the view.
  Engine e2(options());
  e2.restore(store.image());
  EXPECT_EQ(e2.stats().sessions, 2u);
  EXPECT_EQ(sync_err(e2, key("s1", "phone", "e1")), AppCondition::kContinuityLost)
      << "held (not unknown-key), but not answerable after the restart";
  Engine e3(options());
  e3.restore(store.image());
  e3.observe_available("bob@x/a", fields(Show::kAway));
  e3.observe_available("carol@x/c", fields(Show::kNone));
  EXPECT_EQ(e3.readopt_restored(), 1u);  // the new key's moment: its digest is the view
  // The proof after the restart retires the old key as it would have before.
  ASSERT_TRUE(checkpoint(e3, "s2", "y1", "c1"));
  EXPECT_EQ(sync_err(e3, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
  store.add(e3.take_changes());
  EXPECT_EQ(store.sessions.size(), 1u);
}

TEST_F(LostSyncTest, ReadoptedOldKeyAnswersARetryAfterRestart) {
  ImageFold store;
  store.add(e_.take_changes());
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  store.add(e_.take_changes());
  Engine e2(options());
  e2.restore(store.image());
  e2.observe_available("bob@x/a", fields(Show::kAway));
  EXPECT_EQ(e2.readopt_restored(), 2u);  // nothing changed: both moments equal the view
  e2.observe_available("carol@x/c", fields(Show::kNone));
  auto retry = sync(e2, key("s1", "phone", "e1"), "s3", "y2");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->added.size(), 1u);
}

TEST_F(LostSyncTest, PendingOldSessionsDoNotEvictSessionsInUse) {
  // Three devices at the bound of three; each syncs and each result is lost.
  for (int i = 0; i < 3; ++i) {
    const std::string r = "r" + std::to_string(i);
    ASSERT_TRUE(e_.enable("alice@x", "s" + r, r, "e").ok());
  }
  for (int i = 0; i < 3; ++i) {
    const std::string r = "r" + std::to_string(i);
    ASSERT_TRUE(sync(e_, key("s" + r, r, "e"), "n" + r, "y", r).ok());
  }
  EXPECT_EQ(e_.stats().sessions, 6u);
  for (int i = 0; i < 3; ++i) {
    const std::string r = "r" + std::to_string(i);
    EXPECT_TRUE(e_.digest_at("alice@x", "s" + r, r, "e").has_value()) << r;
    EXPECT_TRUE(e_.digest_at("alice@x", "n" + r, r, "y").has_value()) << r;
  }
  // A fourth device: the least recently used line (r0's new session, then its old one)
  // makes room; r1 and r2 keep both keys.
  ASSERT_TRUE(e_.enable("alice@x", "sr3", "r3", "e").ok());
  EXPECT_EQ(e_.stats().sessions, 5u);
  EXPECT_FALSE(e_.digest_at("alice@x", "nr0", "r0", "y").has_value());
  EXPECT_FALSE(e_.digest_at("alice@x", "sr0", "r0", "e").has_value());
  for (int i = 1; i < 3; ++i) {
    const std::string r = "r" + std::to_string(i);
    EXPECT_TRUE(e_.digest_at("alice@x", "s" + r, r, "e").has_value()) << r;
    EXPECT_TRUE(e_.digest_at("alice@x", "n" + r, r, "y").has_value()) << r;
  }
}

TEST_F(LostSyncTest, SessionsAwaitingProofAreBoundedToo) {
  // One device retrying the same lost sync: each retry is another new session.
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "n" + std::to_string(i), "y").ok()) << i;
  // Three sessions in use (the newest attempts) plus the old one they all wait on.
  EXPECT_EQ(e_.stats().sessions, 4u);
  EXPECT_TRUE(e_.digest_at("alice@x", "s1", "phone", "e1").has_value());
  EXPECT_TRUE(e_.digest_at("alice@x", "n9", "phone", "y").has_value());
  EXPECT_FALSE(e_.digest_at("alice@x", "n6", "phone", "y").has_value());
}

TEST_F(LostSyncTest, ReplicatedPendingSessionIsProvenAtThePeer) {
  Engine peer(options());
  peer.set_roster("alice@x", {"bob@x", "carol@x"});
  peer.observe_available("bob@x/a", fields(Show::kAway));
  ASSERT_TRUE(e_.enable("alice@x", "s1", "phone", "e1").ok());
  ASSERT_TRUE(sync(e_, key("s1", "phone", "e1"), "s2", "y1").ok());
  for (const Mutation& m : e_.take_changes()) peer.apply_replicated(m);
  EXPECT_EQ(peer.stats().sessions, 2u);
  (void)peer.take_changes();
  // The verification checkpoint reaches the peer: it retires the old key there and
  // journals the erase for the group.
  ASSERT_TRUE(checkpoint(peer, "s2", "y1", "c1"));
  EXPECT_EQ(peer.stats().sessions, 1u);
  Batch b = peer.take_changes();
  ASSERT_FALSE(b.empty());
  ASSERT_TRUE(std::holds_alternative<EraseSession>(b[0]));
  for (const Mutation& m : b) e_.apply_replicated(m);
  EXPECT_EQ(sync_err(e_, key("s1", "phone", "e1")), AppCondition::kUnknownKey);
}

}  // namespace
}  // namespace rpsync::core
