// SPDX-License-Identifier: MIT
// The engine's replication methods (plugin/core/engine.h, "replication"), one rule each:
// two engines stand for two instances; what one journals is what the feed carries.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/core/engine.h"

namespace rpsync::core {
namespace {

using proto::AppCondition;

proto::PresenceFields status(std::string s) {
  proto::PresenceFields f;
  f.status = std::move(s);
  return f;
}

class Replication : public ::testing::Test {
 protected:
  std::int64_t now_ = 5'000'000;
  EngineOptions options() {
    EngineOptions o;
    o.lifetime_s = 3600;
    o.clock = [this] { return now_; };
    return o;
  }
  Engine a_{options()};
  Engine b_{options()};

  // Both instances observe the same presence (same observer group) and share rosters.
  void both_see(const std::string& jid, const std::string& s) {
    a_.observe_available(jid, status(s));
    b_.observe_available(jid, status(s));
  }
  void SetUp() override {
    a_.set_roster("alice@x", {"bob@x", "carol@x"});
    for (const auto& m : a_.take_changes()) b_.apply_replicated(m);
    both_see("bob@x/phone", "hi");
    both_see("carol@x/pc", "busy");
    a_.take_changes();
    b_.take_changes();
  }
  // The newest PutSession of the batch.
  SessionRecord session_of(const Batch& batch) {
    for (auto it = batch.rbegin(); it != batch.rend(); ++it)
      if (const auto* p = std::get_if<PutSession>(&*it)) return p->session;
    ADD_FAILURE() << "no PutSession in the batch";
    return {};
  }
};

TEST_F(Replication, AdoptedSessionWithMatchingDigestAnswersTheSameDeltaAsItsOrigin) {
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  const SessionRecord rec = session_of(a_.take_changes());
  auto d = a_.digest_at("alice@x", "s1", "r", "e1");
  ASSERT_TRUE(d.has_value());
  b_.adopt_session(rec, d, std::nullopt);
  EXPECT_TRUE(b_.take_changes().empty()) << "an adopted session is not journaled again";

  both_see("bob@x/phone", "away now");
  b_.observe_unavailable("carol@x/pc");
  a_.observe_unavailable("carol@x/pc");
  auto at_a = a_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  auto at_b = b_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_TRUE(at_a.ok()) << at_a.error().text;
  ASSERT_TRUE(at_b.ok()) << at_b.error().text;
  EXPECT_EQ(at_b->changed.size(), 1u);
  EXPECT_EQ(at_b->unavailable, std::vector<std::string>{"carol@x/pc"});
  EXPECT_EQ(at_a->changed, at_b->changed);
  EXPECT_EQ(at_a->state, at_b->state);
}

TEST_F(Replication, AdoptedSessionFromALaggingOrLeadingViewIsNotAnswerable) {
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  const SessionRecord rec = session_of(a_.take_changes());
  auto d = a_.digest_at("alice@x", "s1", "r", "e1");
  b_.observe_available("bob@x/laptop", status("b saw this, a did not yet"));
  b_.adopt_session(rec, d, std::nullopt);
  EXPECT_FALSE(b_.digest_at("alice@x", "s1", "r", "e1").has_value());
  auto r = b_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kContinuityLost);
}

TEST_F(Replication, AdoptedSessionWithoutDigestIsKnownButNotAnswerable) {
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  for (const auto& m : a_.take_changes()) b_.apply_replicated(m);
  EXPECT_EQ(b_.stats().sessions, 1u);
  auto r = b_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, AppCondition::kContinuityLost);
}

TEST_F(Replication, DigestAtIsTheDigestOfTheMomentNotOfNow) {
  auto en = a_.enable("alice@x", "s1", "r", "e1");
  ASSERT_TRUE(en.ok());
  a_.observe_available("bob@x/phone", status("changed"));
  auto cp = a_.checkpoint("alice@x", "s1", "r", "e1", "c1");
  ASSERT_TRUE(cp.ok());
  a_.observe_available("carol@x/tablet", status("new"));
  EXPECT_EQ(a_.digest_at("alice@x", "s1", "r", "e1"), en->state);  // previous moment
  EXPECT_EQ(a_.digest_at("alice@x", "s1", "r", "c1"), cp->state);  // newest moment
  EXPECT_NE(a_.digest_at("alice@x", "s1", "r", "c1"), a_.digest("alice@x"));
  EXPECT_FALSE(a_.digest_at("alice@x", "s1", "r", "nope").has_value());
  a_.gap();
  EXPECT_FALSE(a_.digest_at("alice@x", "s1", "r", "c1").has_value());
}

TEST_F(Replication, AdoptedPreviousMomentAnswersWhenItsDigestMatchesToo) {
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(a_.checkpoint("alice@x", "s1", "r", "e1", "c1").ok());  // nothing changed between
  const SessionRecord rec = session_of(a_.take_changes());
  ASSERT_TRUE(rec.previous.has_value());
  b_.adopt_session(rec, a_.digest_at("alice@x", "s1", "r", "c1"),
                   a_.digest_at("alice@x", "s1", "r", "e1"));
  EXPECT_TRUE(b_.digest_at("alice@x", "s1", "r", "e1").has_value());
  EXPECT_TRUE(b_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"}).ok());
}

TEST_F(Replication, ReplicatedPresenceRosterAndEraseAreAppliedButNotJournaled) {
  a_.observe_available("dave@x/home", status("x"));
  a_.set_roster("alice@x", {"bob@x", "dave@x"});
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(a_.disable("alice@x", "s1", "r").ok());
  const Batch batch = a_.take_changes();
  ASSERT_TRUE(b_.enable("alice@x", "s1", "r", "e0").ok());
  b_.take_changes();
  for (const auto& m : batch) b_.apply_replicated(m);
  EXPECT_TRUE(b_.take_changes().empty());
  EXPECT_EQ(b_.view("alice@x"), a_.view("alice@x"));
  EXPECT_EQ(b_.stats().sessions, 0u) << "the replicated EraseSession dropped it";
}

TEST_F(Replication, PurgeUserForgetsSessionsAndRosterAndJournalsOnlyWhenLocal) {
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(a_.enable("alice@x", "s2", "r2", "f1").ok());
  a_.take_changes();
  EXPECT_EQ(a_.purge_user("alice@x"), 2u);
  const Batch j = a_.take_changes();
  int erased = 0, rosters = 0;
  for (const auto& m : j) {
    erased += std::holds_alternative<EraseSession>(m);
    if (const auto* r = std::get_if<PutRoster>(&m)) rosters += r->contacts.empty();
  }
  EXPECT_EQ(erased, 2);
  EXPECT_EQ(rosters, 1);
  EXPECT_EQ(a_.checkpoint("alice@x", "s1", "r", "e1", "c1").error().app, AppCondition::kNotEnabled);
  EXPECT_TRUE(a_.view("alice@x").empty());

  ASSERT_TRUE(b_.enable("alice@x", "s1", "r", "e1").ok());
  b_.take_changes();
  EXPECT_EQ(b_.purge_user("alice@x", Engine::Source::kReplicated), 1u);
  EXPECT_TRUE(b_.take_changes().empty());
  EXPECT_EQ(b_.stats().sessions, 0u);
  EXPECT_EQ(b_.purge_user("nobody@x"), 0u);
}

TEST_F(Replication, InvalidateKeysOfOneUserOrEveryone) {
  b_.set_roster("erin@x", {"bob@x"});
  ASSERT_TRUE(b_.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(b_.checkpoint("alice@x", "s1", "r", "e1", "c1").ok());
  ASSERT_TRUE(b_.enable("erin@x", "t1", "r", "g1").ok());
  EXPECT_EQ(b_.invalidate_keys("alice@x"), 2u);
  EXPECT_EQ(b_.sync("alice@x", "s2", "r", "y", {"s1", "r", "c1"}).error().app,
            AppCondition::kContinuityLost);
  EXPECT_TRUE(b_.digest_at("erin@x", "t1", "r", "g1").has_value()) << "another user keeps hers";
  // The session survived the invalidation: a new enable gives a valid key again.
  ASSERT_TRUE(b_.enable("alice@x", "s3", "r", "h1").ok());
  EXPECT_EQ(b_.invalidate_keys("*"), 2u);
  EXPECT_FALSE(b_.digest_at("erin@x", "t1", "r", "g1").has_value());
  EXPECT_FALSE(b_.digest_at("alice@x", "s3", "r", "h1").has_value());
  EXPECT_EQ(b_.invalidate_keys("*"), 0u);
}

TEST_F(Replication, ResyncJournalsOnlyWhatReallyChanged) {
  a_.observe_available("bob@x/laptop", status("on"));
  a_.take_changes();
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  const auto before = a_.digest_at("alice@x", "s1", "r", "e1");
  a_.take_changes();
  a_.begin_resync();  // reconnected: the server re-sends what is online now
  a_.observe_available("bob@x/phone", status("hi"));    // unchanged
  a_.observe_available("carol@x/pc", status("lunch"));  // changed
  // bob@x/laptop is not re-sent: it went offline while we were away.
  EXPECT_EQ(a_.end_resync(), 1u);
  const Batch j = a_.take_changes();
  ASSERT_EQ(j.size(), 2u) << "no erase-and-re-add of unchanged resources";
  EXPECT_EQ(std::get<PutResource>(j[0]).jid, "carol@x/pc");
  EXPECT_EQ(std::get<EraseResource>(j[1]).jid, "bob@x/laptop");
  EXPECT_EQ(a_.view("alice@x").size(), 2u);
  // History is kept as for any change: the key taken before still sees its moment.
  EXPECT_EQ(a_.digest_at("alice@x", "s1", "r", "e1"), before);
  auto d = a_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->changed.size(), 1u);
  EXPECT_EQ(d->unavailable, std::vector<std::string>{"bob@x/laptop"});
}

TEST_F(Replication, ResyncSurvivesResourcesThatComeAndGoMeanwhile) {
  b_.begin_resync();
  b_.observe_unavailable("carol@x/pc");             // gone during the resync
  b_.expire();                                      // its record may be erased and reused
  b_.observe_available("dave@x/new", status("x"));  // a new resource, maybe in that slot
  EXPECT_EQ(b_.end_resync(), 1u) << "only bob@x/phone was never confirmed";
  EXPECT_EQ(b_.stats().available, 1u);
  EXPECT_EQ(b_.end_resync(), 0u);
}

// An instance back from its own gap, with a peer's committed rows as witness: what the
// server re-sent or changed since the reconnect wins, what it left unmentioned is taken
// from the rows (not assumed offline), and the key from before the gap gets the exact
// delta to the peer's view.
TEST_F(Replication, ResyncWithRowsTakesTheUnmentionedFromTheRows) {
  a_.set_roster("alice@x", {"bob@x", "carol@x", "dave@x", "erin@x"});
  a_.observe_available("erin@x/tab", status("e"));
  a_.observe_available("dave@x/pc", status("d"));
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  a_.take_changes();
  // During the gap (seen by the peer only): carol changed, bob's laptop came, erin left,
  // dave changed twice (the row holds the first change; the server's live presence after
  // the reconnect has the second).
  const std::vector<ResourceRecord> rows = {
      {"bob@x/phone", status("hi")},
      {"bob@x/laptop", status("new")},
      {"carol@x/pc", status("lunch")},
      {"dave@x/pc", status("d1")},
      {"dave@x/gone", status("stale")}};  // left right after the reconnect (seen live)
  a_.begin_resync();
  a_.observe_available("dave@x/pc", status("d2"));  // live, fresher than the row
  a_.observe_unavailable("dave@x/gone");            // live unavailable: the row is stale
  const Engine::ResyncEnd e = a_.end_resync(rows);
  EXPECT_EQ(e.kept, 1u) << "bob@x/phone: the rows agree";
  EXPECT_EQ(e.adopted, 2u) << "bob@x/laptop and carol@x/pc";
  EXPECT_EQ(e.gone, 1u) << "erin@x/tab: absent from the rows";
  const Batch j = a_.take_changes();
  ASSERT_EQ(j.size(), 1u) << "only what was observed: the rows are the store's already";
  EXPECT_EQ(std::get<PutResource>(j[0]).jid, "dave@x/pc");

  auto d = a_.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_TRUE(d.ok()) << d.error().text;
  EXPECT_EQ(d->added.size(), 1u);    // bob@x/laptop
  EXPECT_EQ(d->changed.size(), 2u);  // carol@x/pc, dave@x/pc (d2)
  EXPECT_EQ(d->unavailable, std::vector<std::string>{"erin@x/tab"});
  const proto::PresenceState v = a_.view("alice@x");
  ASSERT_EQ(v.size(), 4u);
  auto it = v.find("dave@x/pc");
  ASSERT_NE(it, v.end());
  EXPECT_EQ(it->second.status, "d2");
  EXPECT_EQ(v.count("dave@x/gone"), 0u);

  // A bare unavailable since the reconnect makes every row of that contact stale.
  a_.begin_resync();
  a_.observe_unavailable("bob@x");
  const Engine::ResyncEnd e2 = a_.end_resync({{"bob@x/phone", status("hi")},
                                              {"bob@x/laptop", status("new")},
                                              {"carol@x/pc", status("lunch")}});
  EXPECT_EQ(e2.adopted, 0u);
  EXPECT_EQ(e2.kept, 1u) << "carol@x/pc";
  EXPECT_EQ(e2.gone, 1u) << "dave@x/pc: unmentioned and absent from the rows";
  EXPECT_EQ(a_.view("alice@x").size(), 1u) << "bob's rows were stale: only carol is left";
}

// A restart covered by a peer: restored key moments whose recorded digest (the client's
// state) equals the re-learned view are taken again; the others stay continuity-lost, and
// keys an operator invalidated never come back.
TEST_F(Replication, RestoredKeysWhoseDigestStillMatchesAreTakenAgain) {
  a_.set_roster("dan@x", {"carol@x"});
  a_.set_roster("eve@x", {"carol@x"});
  ASSERT_TRUE(a_.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(a_.enable("dan@x", "s2", "r", "e2").ok());
  ASSERT_TRUE(a_.enable("eve@x", "s3", "r", "e3").ok());
  std::vector<SessionRecord> sessions;
  for (const auto& m : a_.take_changes())
    if (const auto* put = std::get_if<PutSession>(&m)) sessions.push_back(put->session);
  ASSERT_EQ(sessions.size(), 3u);
  for (const auto& r : sessions) ASSERT_TRUE(r.newest.digest.has_value()) << r.user;
  EXPECT_EQ(a_.invalidate_keys("eve@x"), 1u);
  const Batch invalidated = a_.take_changes();
  ASSERT_EQ(invalidated.size(), 1u) << "the invalidation is journaled";
  const SessionRecord eve = std::get<PutSession>(invalidated[0]).session;
  EXPECT_FALSE(eve.newest.digest.has_value());
  sessions[2] = eve;

  Image image;
  image.epoch = 1;
  image.resources = {{"bob@x/phone", status("hi")}, {"carol@x/pc", status("busy")}};
  image.rosters = {
      {"alice@x", {"bob@x", "carol@x"}}, {"dan@x", {"carol@x"}}, {"eve@x", {"carol@x"}}};
  image.sessions = sessions;
  Engine c{options()};
  c.restore(image);
  c.take_changes();
  EXPECT_FALSE(c.digest_at("dan@x", "s2", "r", "e2").has_value()) << "restored: not answerable";
  now_ += 60'000;
  c.observe_available("bob@x/phone", status("gone fishing"));  // alice's view moved on
  EXPECT_EQ(c.readopt_restored(), 1u) << "dan's only: alice's view changed, eve's was killed";
  const Batch moved = c.take_changes();
  std::size_t puts = 0;
  for (const auto& m : moved)
    if (const auto* put = std::get_if<PutSession>(&m)) {
      ++puts;
      EXPECT_EQ(put->session.user, "dan@x");
      EXPECT_EQ(put->session.newest.epoch, c.stats().epoch);
      EXPECT_EQ(put->session.newest.at_ms, sessions[1].newest.at_ms)
          << "its lifetime is not renewed";
    }
  EXPECT_EQ(puts, 1u);
  EXPECT_EQ(c.readopt_restored(), 0u) << "applies once";

  c.observe_available("carol@x/pc", status("back"));
  auto dan = c.sync("dan@x", "t2", "r", "y2", {"s2", "r", "e2"});
  ASSERT_TRUE(dan.ok()) << dan.error().text;
  ASSERT_EQ(dan->changed.size(), 1u);
  EXPECT_EQ(dan->changed[0].jid, "carol@x/pc");
  auto alice = c.sync("alice@x", "t1", "r", "y1", {"s1", "r", "e1"});
  ASSERT_FALSE(alice.ok());
  EXPECT_EQ(alice.error().app, AppCondition::kContinuityLost);
  auto eve_sync = c.sync("eve@x", "t3", "r", "y3", {"s3", "r", "e3"});
  ASSERT_FALSE(eve_sync.ok());
  EXPECT_EQ(eve_sync.error().app, AppCondition::kContinuityLost);
}

}  // namespace
}  // namespace rpsync::core
