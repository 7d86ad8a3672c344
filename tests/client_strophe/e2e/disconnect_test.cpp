// SPDX-License-Identifier: MIT
// How the session ended decides what the next delta holds. A graceful logout sends a
// final checkpoint, so the key names the moment alice left and the delta holds only the
// change made after it. An abrupt TCP close (the connection cut under libstrophe) leaves
// the key at the last checkpoint: the delta also holds the change alice saw online after
// it, applied to the stored snapshot of that checkpoint. Either way the changes reported
// to the application (relative to the view it held) are the same, the digest verifies
// and the view equals a fresh plain login's.
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
    // The marked presence's confirmation or verification first: a contact changing before
    // it was answered makes the binding ask for the flood again (the spec's rule), not what
    // is tested here.
    EXPECT_TRUE(a->session().pump([&] {
      return a->stats().presence_confirmed || a->session().find_wire("<< ", "checkpointed") != -1;
    })) << wire_of(*a);
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
  // The application held bob's change already: only carol is new to it.
  static void expect_only_carol_new(const RpsyncClient& a) {
    const auto& changes = a.reports().synced_changes[1];
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].jid, "carol@example.test/desk");
    EXPECT_EQ(changes[0].kind, RPSYNC_STROPHE_AVAILABLE);
    EXPECT_EQ(without_own(a.view(), kAlice).at("bob@example.test/phone"),
              shows(Show::kDnd, "seen while online"));
  }
  std::unique_ptr<scenario::Party> carol_;
};

TEST_F(StropheDisconnect, GracefulLogoutCheckpointsWhatWasSeen) {
  auto a = online_alice_seeing_a_change(0);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(a->logout());
  EXPECT_GE(a->stats().checkpoints_sent, 1u);
  reconnect_after_carol(*a);
  EXPECT_EQ(a->reports().synced[1].items, 1u) << "the final checkpoint covered bob's change";
  expect_only_carol_new(*a);
  expect_view_is_fresh_login(*a);
}

TEST_F(StropheDisconnect, AbruptCloseSyncsFromTheLastCheckpoint) {
  std::string why;
  auto proxy = TcpProxy::start(port(), &why);
  ASSERT_TRUE(proxy) << why;
  auto a = online_alice_seeing_a_change(proxy->port());
  ASSERT_FALSE(HasFailure());
  const std::size_t checkpoints = a->stats().checkpoints_sent;
  const std::string before_cut = wire_of(*a);
  proxy->cut();  // no stream close, no final checkpoint
  ASSERT_TRUE(a->session().pump([&] { return !a->session().connected(); }));
  EXPECT_EQ(a->stats().checkpoints_sent, checkpoints);
  proxy->resume();
  reconnect_after_carol(*a);
  EXPECT_EQ(a->reports().synced[1].items, 2u)
      << "bob's change came after the last checkpoint: the delta holds it again\n"
      << events_of(*a) << "\nbefore the cut:\n"
      << before_cut << "\nafter:\n"
      << wire_of(*a);
  expect_only_carol_new(*a);
  expect_view_is_fresh_login(*a);
}

// An application may free the handle while the connection is up (rpsync_strophe_free
// before xmpp_conn_release, as the header asks); releasing the live connection then must
// not reach the freed handle (the ASan build checks it).
TEST_F(StropheDisconnect, FreeingTheHandleOfALiveConnectionIsSafe) {
  ClientOptions o;
  o.full_jid = std::string(kAlice) + "/laptop";
  o.port = port();
  o.disconnect_before_free = false;
  auto a = std::make_unique<RpsyncClient>(std::move(o));
  ASSERT_TRUE(a->login_until_online()) << events_of(*a);
  a.reset();
  auto again = enabled_alice("desk");
  EXPECT_FALSE(HasFailure()) << "the server and component still serve alice";
}

}  // namespace
}  // namespace rpsync::test::strophe
