// SPDX-License-Identifier: MIT
// How the session ended decides what the next delta holds. A graceful logout sends a
// final checkpoint, so what alice saw while online is not sent again: only the change
// after she left arrives. An abrupt TCP close (the connection cut under libstrophe) leaves
// the component at the last checkpoint, so the change she saw just before the cut arrives
// again with the later one; both deltas apply and verify, and the view equals a fresh
// plain login's.
#include "tests/client_strophe/e2e/strophe_world.h"
#include "tests/harness/tcp_proxy.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

class StropheDisconnect : public StropheWorld {
 protected:
  // alice (through `via`, 0 = directly) enabled, logged out, back online synced; then bob
  // changes and alice has received it.
  std::unique_ptr<RpsyncClient> online_alice_seeing_a_change(std::uint16_t via) {
    auto a = alice("laptop", "", via);
    EXPECT_TRUE(a->login_until_online()) << events_of(*a);
    EXPECT_TRUE(a->logout());
    EXPECT_TRUE(a->login_until_online()) << events_of(*a);
    EXPECT_EQ(a->reports().synced.size(), 1u) << events_of(*a) << "\n" << component_log();
    const std::size_t before = a->session().contact_presences();
    EXPECT_TRUE(bob->sends_presence(shows(Show::kDnd, "seen while online")));
    EXPECT_TRUE(a->session().pump([&] { return a->session().contact_presences() > before; }));
    return a;
  }
  // carol comes online while alice is away; alice reconnects and syncs.
  void reconnect_after_carol(RpsyncClient& a) {
    carol_ = online("carol@example.test", "desk", shows(Show::kChat, "after you left"));
    ASSERT_TRUE(carol_);
    settle(*bob);
    ASSERT_TRUE(a.login()) << events_of(a);
    ASSERT_EQ(a.reports().synced.size(), 2u) << events_of(a) << "\n" << component_log();
  }
  std::unique_ptr<scenario::Party> carol_;
};

TEST_F(StropheDisconnect, GracefulLogoutCheckpointsWhatWasSeen) {
  auto a = online_alice_seeing_a_change(0);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(a->logout());
  EXPECT_GE(a->stats().checkpoints_sent, 1u);
  reconnect_after_carol(*a);
  const auto& changes = a->reports().synced_changes[1];
  ASSERT_EQ(changes.size(), 1u) << "the final checkpoint covered bob's change";
  EXPECT_EQ(changes[0].jid, "carol@example.test/desk");
  EXPECT_EQ(changes[0].kind, RPSYNC_STROPHE_AVAILABLE);
  expect_view_is_fresh_login(*a);
}

TEST_F(StropheDisconnect, AbruptCloseSyncsFromTheLastCheckpoint) {
  std::string why;
  auto proxy = TcpProxy::start(port(), &why);
  ASSERT_TRUE(proxy) << why;
  auto a = online_alice_seeing_a_change(proxy->port());
  ASSERT_FALSE(HasFailure());
  const std::size_t checkpoints = a->stats().checkpoints_sent;
  proxy->cut();  // no stream close, no final checkpoint
  ASSERT_TRUE(a->session().pump([&] { return !a->session().connected(); }));
  EXPECT_EQ(a->stats().checkpoints_sent, checkpoints);
  proxy->resume();
  reconnect_after_carol(*a);
  std::map<std::string, Change> by_jid;
  for (const auto& c : a->reports().synced_changes[1]) by_jid[c.jid] = c;
  ASSERT_EQ(by_jid.size(), 2u) << "bob's change was never checkpointed: it comes again";
  EXPECT_EQ(by_jid["bob@example.test/phone"].fields, shows(Show::kDnd, "seen while online"));
  EXPECT_EQ(by_jid["carol@example.test/desk"].kind, RPSYNC_STROPHE_AVAILABLE);
  expect_view_is_fresh_login(*a);
}

}  // namespace
}  // namespace rpsync::test::strophe
