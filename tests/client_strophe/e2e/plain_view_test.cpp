// SPDX-License-Identifier: MIT
// The yardstick of every other test here: a fresh plain libstrophe login (no rpsync, the
// flood collected until a ping to the server returned) shows exactly what a raw client's
// full login shows, field by field, and follows the contacts' changes.
#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

class PlainStrophe : public StropheWorld {};

TEST_F(PlainStrophe, PlainLibstropheLoginSeesWhatARawLoginSees) {
  auto carol =
      online("carol@example.test", "desk",
             scenario::with_caps(shows(Show::kChat, "hi", 5), "QgayPKawpkPSDYmwT/WM94uAlu0="));
  ASSERT_TRUE(carol);
  settle(*bob);
  FreshView first = fresh_login_view(std::string(kAlice) + "/plain", "pw", port());
  ASSERT_TRUE(first.ok);
  scenario::Flood raw = scenario::fresh_full_login(port(), kAlice, "raw", Millis(0));
  ASSERT_TRUE(raw.complete);
  EXPECT_EQ(first.state, raw.state) << scenario::describe(first.state) << "\n"
                                    << scenario::describe(raw.state);
  ASSERT_EQ(first.state.size(), 2u) << scenario::describe(first.state);
  EXPECT_EQ(first.state.at("bob@example.test/phone"), shows(Show::kAway, "brb"));
  EXPECT_EQ(first.state.at("carol@example.test/desk").priority, 5);
  ASSERT_TRUE(first.state.at("carol@example.test/desk").caps);

  carol->closes();
  ASSERT_TRUE(bob->sends_presence(shows(Show::kDnd, "meeting")));
  ASSERT_TRUE(bob->settles());
  FreshView second = fresh_login_view(std::string(kAlice) + "/plain", "pw", port());
  ASSERT_TRUE(second.ok);
  ASSERT_EQ(second.state.size(), 1u) << scenario::describe(second.state);
  EXPECT_EQ(second.state.at("bob@example.test/phone"), shows(Show::kDnd, "meeting"));
}

}  // namespace
}  // namespace rpsync::test::strophe
