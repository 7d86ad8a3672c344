// SPDX-License-Identifier: MIT
// Scenario 11 (e, f, g), multi-instance (fixture in multi_instance.h), an instance gone:
//   B is killed (-9) under a presence load and restarted: its view of alice equals A's
//   B loses its server connection while A observes: a key B gave before the outage syncs
//     at B afterwards with the exact delta, changes made during the outage included
//   B is restarted while A observes: a key B gave before (contacts unchanged meanwhile) is
//     taken again and syncs at B with the exact delta
#include "tests/harness/tcp_proxy.h"
#include "tests/scenario/multi_instance.h"

namespace rpsync::test::scenario::multi {
namespace {

// (e) B is killed (-9) while contacts keep changing, and started again: once ready, its
// view of alice (an enable's count and digest) equals A's and a fresh login's.
TEST_F(MultiInstance, InstanceKilledUnderPresenceLoadComesBackWithThePeersView) {
  std::vector<std::unique_ptr<Party>> contacts;
  for (const char* c : {"carol@example.test", "dave@example.test", "erin@example.test"})
    contacts.push_back(comes_online(c, "r1"));
  for (const auto& c : contacts) ASSERT_TRUE(c);
  std::size_t sent = 0;
  for (int i = 0; i < 90; ++i) {
    auto fields = shows(i % 2 ? Show::kAway : Show::kDnd, "load " + std::to_string(i));
    ASSERT_TRUE(contacts[static_cast<std::size_t>(i) % contacts.size()]->sends_presence(fields));
    ++sent;
    if (i == 30) b->kill9();
    if (i == 60) {
      std::string why;
      ASSERT_TRUE(b->start(&why)) << why;
    }
    if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  contacts[1]->closes();  // and one leaves for good
  for (std::size_t i : {0u, 2u}) ASSERT_TRUE(contacts[i]->settles());
  std::string why;
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;

  auto phone = logs_in(kAlice, "phone");
  auto laptop = logs_in(kAlice, "laptop");
  ASSERT_TRUE(phone && laptop);
  Flood seen = phone->sends_presence_and_collects_flood({}, Millis{0});
  ASSERT_TRUE(seen.complete);
  ASSERT_EQ(seen.state.size(), 2u) << describe(seen.state);
  Answer at_a = phone->sends_enable(kA, "ea");
  Answer at_b = laptop->sends_enable(kB, "eb");
  ASSERT_TRUE(at_a.ok() && at_b.ok()) << at_a.describe() << " / " << at_b.describe() << logs();
  auto view_a = proto::parse_enabled(*at_a.payload);
  auto view_b = proto::parse_enabled(*at_b.payload);
  ASSERT_TRUE(view_a.ok() && view_b.ok());
  EXPECT_EQ(view_a->state, proto::digest_of(seen.state)) << "A's view is what alice sees";
  EXPECT_EQ(view_b->state, view_a->state) << "B's view after the crash equals A's\n" << logs();
  std::printf(
      "[scenario prosody] 11 multi-instance: %zu presence changes, B killed at 31 and "
      "restarted at 61\n",
      sent);
}

// (f) B's own gap, covered by A: B's server connection is cut (a proxy between them) while
// contacts change; A observes throughout, so the group kept its continuity and alice's key
// from B, taken before the cut, still syncs at B with the exact delta.
TEST_F(MultiInstance, KeyOutlivesItsInstancesDisconnectWhenThePeerObservedThroughout) {
  std::string why;
  auto proxy = TcpProxy::start(prosody->component_port(), &why);
  ASSERT_TRUE(proxy) << why;
  b.reset();
  b = start_instance(kB, "B", proxy->port());
  ASSERT_TRUE(b && ready(*b, kB, std::chrono::seconds(30), &why)) << why;

  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway, "lunch"));
  auto erin = comes_online("erin@example.test", "laptop");
  ASSERT_TRUE(carol && erin);
  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kB, "e1", 2, model);
  ASSERT_FALSE(key.stream.empty());

  proxy->cut();
  ASSERT_TRUE(log_shows(*b, "not-ready until group continuity is decided")) << logs();
  // While B is cut off: carol changes, dave arrives, erin leaves. A sees it all.
  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "meeting")));
  auto dave = comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  ASSERT_TRUE(dave);
  erin->closes();
  ASSERT_TRUE(carol->settles() && dave->settles());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // A commits what it saw
  proxy->resume();

  // Reconnect (backoff after the refused attempts), resync, decision: well within 40 s.
  ASSERT_TRUE(log_shows(*b, "own_gap.bridged", 1, std::chrono::seconds(40))) << logs();
  EXPECT_EQ(b->log().find("own_gap.lost"), std::string::npos) << logs();
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  expect_carol_changed_dave_came_erin_left(*delta);
  EXPECT_GE(proxy->connections(), 2u) << "B really reconnected";
}

// (g) B restarted while A observes: the restore invalidates B's keys, but the start's gap is
// covered by A, so alice's key from B (her contacts unchanged meanwhile) is taken again and
// syncs at B with the exact delta of what changed after the restart.
TEST_F(MultiInstance, KeyOutlivesItsInstancesRestartWhenThePeerObservedThroughout) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway, "lunch"));
  ASSERT_TRUE(carol);
  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kB, "e1", 1, model);
  ASSERT_FALSE(key.stream.empty());

  EXPECT_EQ(b->terminate(), 0) << logs();
  std::string why;
  ASSERT_TRUE(b->start(&why)) << why;
  ASSERT_TRUE(
      log_shows(*b, "own_gap.bridged gap=restart keys_taken_again=1", 1, std::chrono::seconds(30)))
      << logs();
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "meeting")));
  ASSERT_TRUE(carol->settles());

  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->changed.size(), 1u) << describe(*delta);
}

}  // namespace
}  // namespace rpsync::test::scenario::multi
