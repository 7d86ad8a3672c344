// SPDX-License-Identifier: MIT
// A libstrophe client with librpsync-strophe: the first login is a full one that enables
// rpsync; after a graceful logout a reconnect is answered by a delta (the changes while
// away, or an empty one), applied and verified before the marked initial presence leaves,
// so the gate lets no flood through; the view then equals a fresh plain login's.
#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

class StropheSync : public StropheWorld {};

TEST_F(StropheSync, ChangesWhileAwayArriveAsDeltaAndNoFlood) {
  auto carol = online("carol@example.test", "desk", shows(Show::kChat, "hi"));
  ASSERT_TRUE(carol);
  settle(*bob);
  auto a = enabled_alice();
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(bob->sends_presence(shows(Show::kDnd, "meeting")));
  carol->closes();
  auto dave = online("dave@example.test", "tablet", shows(Show::kXa, "gone"));
  ASSERT_TRUE(dave);
  settle(*bob);

  ASSERT_TRUE(a->login()) << events_of(*a);
  const Reports& r = a->reports();
  ASSERT_EQ(r.synced.size(), 1u) << events_of(*a) << "\n" << component_log();
  ASSERT_EQ(r.synced_changes[0].size(), 3u);
  std::map<std::string, Change> by_jid;
  for (const auto& c : r.synced_changes[0]) by_jid[c.jid] = c;
  EXPECT_EQ(by_jid["bob@example.test/phone"].kind, RPSYNC_STROPHE_CHANGED);
  EXPECT_EQ(by_jid["bob@example.test/phone"].fields, shows(Show::kDnd, "meeting"));
  EXPECT_EQ(by_jid["carol@example.test/desk"].kind, RPSYNC_STROPHE_UNAVAILABLE);
  EXPECT_EQ(by_jid["dave@example.test/tablet"].kind, RPSYNC_STROPHE_AVAILABLE);
  EXPECT_EQ(by_jid["dave@example.test/tablet"].fields, shows(Show::kXa, "gone"));
  EXPECT_EQ(r.synced[0].items, 3u);
  EXPECT_EQ(r.presence_sent.back(), 1) << "the initial presence after a verified sync is marked";
  a->session().pump_for(Millis(300));
  EXPECT_EQ(a->stats().presence_stanzas, 0u) << "the gate let a flood through";
  EXPECT_EQ(a->session().contact_presences(), 0u);
  EXPECT_EQ(r.full_resyncs.size(), 1u) << "only the first login was a full one: " << events_of(*a);
  expect_view_is_fresh_login(*a);
}

TEST_F(StropheSync, NothingChangedGivesAnEmptyDelta) {
  auto a = enabled_alice();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(a->login()) << events_of(*a);
  const Reports& r = a->reports();
  ASSERT_EQ(r.synced.size(), 1u) << events_of(*a) << "\n" << component_log();
  EXPECT_TRUE(r.synced_changes[0].empty());
  EXPECT_EQ(r.synced[0].items, 0u);
  EXPECT_EQ(r.synced[0].count, 1u);
  const std::size_t checkpoints = a->stats().checkpoints_sent;
  a->session().pump_for(Millis(300));
  EXPECT_EQ(a->session().contact_presences(), 0u);
  EXPECT_EQ(a->stats().presence_confirmed, 1) << "the gate did not confirm a quiet window";
  EXPECT_EQ(a->stats().checkpoints_sent, checkpoints) << "a checkpoint after the confirmation";
  expect_view_is_fresh_login(*a);
  EXPECT_EQ(without_own(a->view(), kAlice).size(), 1u);
}

}  // namespace
}  // namespace rpsync::test::strophe
