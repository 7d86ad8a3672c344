// SPDX-License-Identifier: MIT
// One account, two client libraries: alice/laptop on libstrophe with librpsync-strophe and
// alice/desk on gloox with the rpsync extension (client_ext), each with its own key at the
// same component. Both leave, contacts change, both come back: each gets the same delta,
// each view (the other own resource aside) equals a fresh plain login's, and neither
// received a flood.
#include "client_ext/store.h"
#include "tests/client_ext/e2e/gloox_session.h"
#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using client::testing::GlooxSession;
using proto::Show;
using scenario::shows;

class TwoLibraries : public StropheWorld {
 protected:
  std::unique_ptr<GlooxSession> gloox_alice(client::SessionStore* store) {
    auto g = std::make_unique<GlooxSession>(std::string(kAlice) + "/desk", "pw", port(), store);
    EXPECT_TRUE(g->connect());
    EXPECT_TRUE(g->pump([&] { return g->recorder().connects > connects_; }));
    connects_ = g->recorder().connects;
    return g;
  }
  static bool gloox_online(GlooxSession& g) {
    return g.manager().phase() == client::RpsyncManager::Phase::kOnline;
  }
  int connects_ = 0;
};

TEST_F(TwoLibraries, GlooxAndLibstropheResourcesBothSync) {
  client::MemorySessionStore store;
  auto g = gloox_alice(&store);
  ASSERT_TRUE(g->pump([&] { return gloox_online(*g); }));
  auto a = alice("laptop");
  a->session().side = [&] {
    g->client().recv(0);
    g->manager().tick();
  };
  ASSERT_TRUE(a->login_until_online()) << events_of(*a) << "\n" << component_log();
  EXPECT_EQ(a->reports().enabled, std::vector<int>{1});
  ASSERT_EQ(g->recorder().enabled.size(), 1u);
  EXPECT_TRUE(g->recorder().enabled[0]);

  ASSERT_TRUE(a->logout());
  g->manager().logout();
  ASSERT_TRUE(g->pump([&] { return g->recorder().disconnects == 1; }));
  ASSERT_TRUE(bob->sends_presence(shows(Show::kDnd, "both of you")));
  auto carol = online("carol@example.test", "desk", shows(Show::kChat));
  ASSERT_TRUE(carol);
  settle(*bob);

  ASSERT_TRUE(g->connect());
  ASSERT_TRUE(g->pump([&] { return g->recorder().synced.size() == 1; })) << component_log();
  ASSERT_TRUE(a->login()) << events_of(*a);
  ASSERT_EQ(a->reports().synced.size(), 1u) << events_of(*a) << "\n" << component_log();
  EXPECT_EQ(a->reports().synced_changes[0].size(), 2u);
  EXPECT_EQ(g->recorder().synced_changes[0].size(), 2u);
  a->session().pump_for(Millis(300));
  EXPECT_EQ(a->session().contact_presences(), 0u);
  EXPECT_EQ(g->manager().presence_stanzas(), 0u);

  expect_view_is_fresh_login(*a);
  FreshView fresh = fresh_login_view(std::string(kAlice) + "/fresh-gloox", "pw", port());
  ASSERT_TRUE(fresh.ok);
  g->pump_for(Millis(200));
  EXPECT_EQ(without_own(g->manager().cache().live(), kAlice), fresh.state);
  EXPECT_EQ(without_own(a->view(), kAlice), without_own(g->manager().cache().live(), kAlice));
}

}  // namespace
}  // namespace rpsync::test::strophe
