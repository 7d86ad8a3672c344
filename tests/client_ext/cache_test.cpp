// SPDX-License-Identifier: MIT
#include "client_ext/cache.h"

#include <gtest/gtest.h>

#include "protocol/state.h"

namespace rpsync::client {
namespace {

proto::PresenceFields show(proto::Show s, std::string status = {}) {
  proto::PresenceFields f;
  f.show = s;
  f.status = std::move(status);
  return f;
}

proto::PresenceState before_state() {
  return {{"alice@x.test/home", show(proto::Show::kNone)},
          {"bob@x.test/desk", show(proto::Show::kAway, "lunch")},
          {"carol@x.test/phone", show(proto::Show::kDnd)},
          {"carol@x.test/tablet", show(proto::Show::kXa)}};
}

proto::PresenceState after_state() {
  return {{"alice@x.test/home", show(proto::Show::kNone)},          // unchanged
          {"bob@x.test/desk", show(proto::Show::kNone, "back")},    // changed
          {"carol@x.test/tablet", show(proto::Show::kXa)},          // phone gone
          {"dave@x.test/laptop", show(proto::Show::kChat, "hi")}};  // new
}

TEST(PresenceCache, LivePresenceReportsOnlyRealChanges) {
  PresenceCache c;
  auto ch = c.on_presence("a@x.test/r", show(proto::Show::kAway));
  ASSERT_TRUE(ch);
  EXPECT_EQ(ch->kind, PresenceChange::Kind::kAvailable);
  EXPECT_FALSE(c.on_presence("a@x.test/r", show(proto::Show::kAway)));  // same again
  ch = c.on_presence("a@x.test/r", show(proto::Show::kAway, "zzz"));
  ASSERT_TRUE(ch);
  EXPECT_EQ(ch->kind, PresenceChange::Kind::kChanged);
  EXPECT_EQ(ch->changed, proto::bit(proto::Field::kStatus));
  ch = c.on_presence("a@x.test/r", std::nullopt);
  ASSERT_TRUE(ch);
  EXPECT_EQ(ch->kind, PresenceChange::Kind::kUnavailable);
  EXPECT_FALSE(c.on_presence("a@x.test/r", std::nullopt));  // already gone
  EXPECT_TRUE(c.live().empty());
}

TEST(PresenceCache, DeltaFromDiffAppliesAndVerifies) {
  PresenceCache c;
  c.reset(before_state());
  const proto::Delta d = proto::diff(before_state(), after_state());
  std::vector<PresenceChange> changes;
  ASSERT_EQ(c.apply_delta(d, &changes), DeltaFailure::kNone);
  EXPECT_EQ(c.live(), after_state());
  EXPECT_EQ(c.snapshot(), after_state());
  EXPECT_EQ(proto::digest_of(c.live()), d.state);
  // Exactly the three changes, in JID order.
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].jid, "bob@x.test/desk");
  EXPECT_EQ(changes[0].kind, PresenceChange::Kind::kChanged);
  EXPECT_EQ(changes[1].jid, "carol@x.test/phone");
  EXPECT_EQ(changes[1].kind, PresenceChange::Kind::kUnavailable);
  EXPECT_EQ(changes[2].jid, "dave@x.test/laptop");
  EXPECT_EQ(changes[2].kind, PresenceChange::Kind::kAvailable);
}

TEST(PresenceCache, EmptyDeltaChangesNothing) {
  PresenceCache c;
  c.reset(before_state());
  proto::Delta d;
  d.state = proto::digest_of(before_state());
  std::vector<PresenceChange> changes{{"junk", PresenceChange::Kind::kAvailable, {}, 0}};
  ASSERT_EQ(c.apply_delta(d, &changes), DeltaFailure::kNone);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(c.live(), before_state());
}

TEST(PresenceCache, ChangesAreRelativeToLiveViewNotSnapshot) {
  PresenceCache c;
  c.reset(before_state());
  // Seen live after the key's moment: dave came online already.
  c.on_presence("dave@x.test/laptop", show(proto::Show::kChat, "hi"));
  std::vector<PresenceChange> changes;
  ASSERT_EQ(c.apply_delta(proto::diff(before_state(), after_state()), &changes),
            DeltaFailure::kNone);
  EXPECT_EQ(changes.size(), 2u);  // dave is not reported again
}

TEST(PresenceCache, WrongDigestLeavesCacheUntouched) {
  PresenceCache c;
  c.reset(before_state());
  proto::Delta d = proto::diff(before_state(), after_state());
  d.state = proto::digest_of(before_state());  // lies about the result
  EXPECT_EQ(c.apply_delta(d), DeltaFailure::kDigestMismatch);
  EXPECT_EQ(c.live(), before_state());
  EXPECT_EQ(c.snapshot(), before_state());
}

TEST(PresenceCache, DeltaForAnotherStateDoesNotApply) {
  PresenceCache c;
  c.reset(after_state());  // the delta assumes before_state()
  const proto::Delta d = proto::diff(before_state(), after_state());
  EXPECT_EQ(c.apply_delta(d), DeltaFailure::kDoesNotApply);
  EXPECT_EQ(c.live(), after_state());
}

TEST(PresenceCache, RemovedContactDropsAllItsResources) {
  PresenceCache c;
  c.reset(before_state());
  proto::Delta d;
  d.contacts = {{"carol@x.test", proto::ContactChange::Kind::kRemoved}};
  proto::PresenceState expected = before_state();
  expected.erase("carol@x.test/phone");
  expected.erase("carol@x.test/tablet");
  d.state = proto::digest_of(expected);
  ASSERT_EQ(c.apply_delta(d), DeltaFailure::kNone);
  EXPECT_EQ(c.live(), expected);
}

TEST(PresenceCache, AdoptsLiveViewOnlyWhenDigestMatches) {
  PresenceCache c;
  c.on_presence("a@x.test/r", show(proto::Show::kAway));
  EXPECT_FALSE(c.adopt_if_matches(proto::digest_of({})));
  EXPECT_TRUE(c.snapshot().empty());
  EXPECT_TRUE(c.adopt_if_matches(proto::digest_of(c.live())));
  EXPECT_EQ(c.snapshot(), c.live());
}

TEST(ChangesBetween, IsEmptyForEqualStatesAndSymmetricInCount) {
  EXPECT_TRUE(changes_between(before_state(), before_state()).empty());
  EXPECT_EQ(changes_between(before_state(), after_state()).size(),
            changes_between(after_state(), before_state()).size());
}

}  // namespace
}  // namespace rpsync::client
