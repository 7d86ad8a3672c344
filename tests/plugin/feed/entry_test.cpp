// SPDX-License-Identifier: MIT
// Pure parts of plugin/feed: the entry payload codec, stream ids, the publisher's entry
// building, the observer-group apply rule and the group-continuity rule.
#include "plugin/feed/entry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/feed/apply.h"
#include "plugin/feed/continuity.h"
#include "plugin/feed/feed_writer.h"

namespace rpsync::feed {
namespace {

proto::PresenceFields status(std::string s) {
  proto::PresenceFields f;
  f.status = std::move(s);
  f.priority = -3;
  return f;
}

core::SessionRecord record() {
  core::SessionRecord s{
      "alice@x", "s1", "r", {"e1", 3, 1234, {}}, core::TxnRecord{"e0", 3, 1000, {}}};
  return s;
}

TEST(EntryCodec, MutationsAndDigestsRoundTrip) {
  Entry e;
  e.kind = Kind::kMutations;
  e.mutations = {
      core::PutResource{"bob@x/phone", status("hi")},   core::EraseResource{"carol@x/pc"},
      core::PutRoster{"alice@x", {"bob@x", "carol@x"}}, core::PutSession{record()},
      core::EraseSession{"alice@x", "s0", "r"},         core::PutSession{record()}};
  auto d = proto::StateDigest::from_hex(std::string(63, '0') + "7", 1);
  e.digests = {SessionDigests{d, std::nullopt}, SessionDigests{}};
  Entry back;
  back.kind = Kind::kMutations;
  ASSERT_TRUE(decode_payload(encode_payload(e), back));
  ASSERT_EQ(back.mutations.size(), e.mutations.size());
  EXPECT_EQ(std::get<core::PutResource>(back.mutations[0]).fields, status("hi"));
  EXPECT_EQ(std::get<core::EraseResource>(back.mutations[1]).jid, "carol@x/pc");
  EXPECT_EQ(std::get<core::PutRoster>(back.mutations[2]).contacts.size(), 2u);
  EXPECT_EQ(std::get<core::PutSession>(back.mutations[3]).session, record());
  EXPECT_EQ(std::get<core::EraseSession>(back.mutations[4]).stream, "s0");
  EXPECT_EQ(back.digests, e.digests);
}

TEST(EntryCodec, AdminAndMalformed) {
  Entry e;
  e.kind = Kind::kPurgeUser;
  e.user = "alice@x";
  Entry back;
  back.kind = Kind::kPurgeUser;
  ASSERT_TRUE(decode_payload(encode_payload(e), back));
  EXPECT_EQ(back.user, "alice@x");
  std::string blob = encode_payload(e);
  EXPECT_FALSE(decode_payload(blob.substr(0, blob.size() - 1), back));
  EXPECT_FALSE(decode_payload("", back));
  back.kind = Kind::kMutations;
  EXPECT_FALSE(decode_payload(std::string("\x01\x09", 2), back)) << "unknown tag";
  EXPECT_EQ(kind_from("invalidate-keys"), Kind::kInvalidateKeys);
  EXPECT_FALSE(kind_from("drop-tables").has_value());
}

TEST(EntryCodec, StreamIdsAreTotallyOrdered) {
  auto a = StreamId::parse("1700000000000-5");
  auto b = StreamId::parse("1700000000000-12");
  auto c = StreamId::parse("1700000000001-0");
  ASSERT_TRUE(a && b && c);
  EXPECT_LT(*a, *b);  // numerically, not as text
  EXPECT_LT(*b, *c);
  EXPECT_EQ(StreamId::parse("17")->str(), "17-0");
  EXPECT_FALSE(StreamId::parse("x-1").has_value());
  EXPECT_FALSE(StreamId::parse("1-").has_value());
}

TEST(FeedConfigCheck, InstanceIdsAreKeySafe) {
  EXPECT_EQ(check_config({"node-1.a_b", "example.test"}), "");
  EXPECT_NE(check_config({"", "example.test"}), "");
  EXPECT_NE(check_config({"a b", "example.test"}), "");
  EXPECT_NE(check_config({"a", ""}), "");
}

TEST(PublisherTest, DropsEpochsSplitsLargeBatchesAndStampsWriterIds) {
  Publisher p({"i1", "g1", 10, 0}, "pfx");
  p.max_per_entry = 2;
  core::Batch b = {core::PutEpoch{4}, core::PutResource{"a@x/r", {}},
                   core::PutResource{"b@x/r", {}}, core::EraseResource{"a@x/r"}};
  int asked = 0;
  auto cmds = p.commands(b, [&](const core::SessionRecord&) {
    ++asked;
    return SessionDigests{};
  });
  EXPECT_EQ(cmds.size(), 2u);
  EXPECT_EQ(asked, 0);
  EXPECT_TRUE(p.commands({core::PutEpoch{5}}, {}).empty());
  // Writer ids: same incarnation, increasing counter (field after "w").
  auto writer = [](const std::vector<std::string>& c) {
    for (std::size_t i = 0; i + 1 < c.size(); ++i)
      if (c[i] == "w") return c[i + 1];
    return std::string();
  };
  const std::string w1 = writer(cmds[0]), w2 = writer(cmds[1]);
  EXPECT_EQ(w1.substr(0, w1.find(':')), w2.substr(0, w2.find(':')));
  EXPECT_EQ(w1.substr(w1.find(':')), ":1");
  EXPECT_EQ(w2.substr(w2.find(':')), ":2");
  EXPECT_EQ(cmds[0][3], "pfx:{feed}:seq");
  EXPECT_EQ(cmds[0][4], "pfx:{feed}:changes");
  EXPECT_EQ(cmds[0][5], "10");
}

class ApplyRule : public ::testing::Test {
 protected:
  std::int64_t now_ = 1000;
  core::EngineOptions options() {
    core::EngineOptions o;
    o.clock = [this] { return now_; };
    return o;
  }
  core::Engine e_{options()};
  Self self_{"b1", "server-b"};

  Entry from(std::string origin, std::string group, core::Batch m) {
    Entry x;
    x.origin = std::move(origin);
    x.observer_group = std::move(group);
    x.mutations = std::move(m);
    return x;
  }
};

TEST_F(ApplyRule, PresenceFromTheSameObserverGroupIsNotApplied) {
  e_.set_roster("alice@x", {"bob@x"});
  auto a =
      apply_entry(e_, from("b2", "server-b", {core::PutResource{"bob@x/r", status("old")}}), self_);
  EXPECT_EQ(a.presence_skipped, 1u);
  EXPECT_TRUE(e_.view("alice@x").empty());
  a = apply_entry(e_, from("a1", "server-a", {core::PutResource{"bob@x/r", status("x")}}), self_);
  EXPECT_EQ(a.presence, 1u);
  EXPECT_EQ(e_.view("alice@x").size(), 1u);
}

TEST_F(ApplyRule, SessionsRostersAndAdminAreAppliedFromEveryGroup) {
  auto a = apply_entry(
      e_,
      from("b2", "server-b", {core::PutRoster{"alice@x", {"bob@x"}}, core::PutSession{record()}}),
      self_);
  EXPECT_EQ(a.rosters, 1u);
  EXPECT_EQ(a.sessions, 1u);
  EXPECT_EQ(a.answerable, 0u) << "no digest: known, not answerable";
  EXPECT_EQ(e_.stats().sessions, 1u);
  Entry purge;
  purge.origin = "a1";
  purge.observer_group = "server-a";
  purge.kind = Kind::kPurgeUser;
  purge.user = "alice@x";
  EXPECT_EQ(apply_entry(e_, purge, self_).admin, 1u);
  EXPECT_EQ(e_.stats().sessions, 0u);
  EXPECT_TRUE(e_.take_changes().size() <= 2u);  // only the local set_roster of this test
  Entry own = purge;
  own.origin = "b1";
  EXPECT_EQ(apply_entry(e_, own, self_).admin, 0u) << "own entries are not applied";
}

TEST(ContinuityRule, APeerOfTheSameGroupWhoseRunSpansTheGapKeepsContinuity) {
  // Our gap: last beat before at 1000, first beat after at 5000.
  std::vector<InstanceRun> runs = {{"me", "g", true, 6000, 6000}};
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kLost) << "nobody else";
  runs.push_back({"p", "g", true, 500, 5200});
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kKept);
  runs.back().last_ms = 4900;  // alive, started before the gap, not yet beaten after it
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kPending);
  runs.back().alive = false;  // ... and its heartbeat expired: it stopped inside our gap
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kLost);
  runs.back() = {"p", "g", true, 1500, 9000};  // its run began inside our gap
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kLost);
  runs.back() = {"p", "other", true, 100, 9000};  // another server's observer
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kLost);
  runs.back() = {"p", "g", false, 100, 9000};  // ended after our gap: still covered it
  EXPECT_EQ(judge("me", "g", 1000, 5000, runs), Verdict::kKept);
  // A brand-new instance (never beat before): its gap is its start at 5000.
  runs.back() = {"p", "g", true, 3000, 5100};
  EXPECT_EQ(judge("me", "g", 0, 5000, runs), Verdict::kKept) << "joins an observed group";
  runs.back() = {"p", "g", true, 3000, 4900};
  EXPECT_EQ(judge("me", "g", 0, 5000, runs), Verdict::kPending);
  runs.back() = {"p", "g", false, 3000, 4900};
  EXPECT_EQ(judge("me", "g", 0, 5000, runs), Verdict::kLost) << "first observer of its server";
}

}  // namespace
}  // namespace rpsync::feed
