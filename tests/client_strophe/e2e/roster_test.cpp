// SPDX-License-Identifier: MIT
// The versioned roster helper (RFC 6121 2.6) with rpsync, for an application with a state
// file and for one whose state lives with the handle. An unchanged roster costs an
// empty result and is delivered from the cache. A roster edited while alice was away
// (from her desktop: ivan added with a subscription handshake, dave removed) arrives as
// roster pushes for the changes, and the delta carries ivan's resource and dave's
// unavailable; cached roster and view then equal what a fresh login gets.
#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

bool is_subscription(const xml::Element& e, std::string_view type, std::string_view from_bare) {
  return e.name() == "presence" && e.attr("type") == type &&
         proto::bare_of(e.attr("from").value_or("")) == from_bare;
}

class StropheRoster : public StropheWorld {
 protected:
  // alice's desktop adds ivan (mutual subscription) and removes dave, as a client does.
  void desktop_edits_roster(scenario::Party& ivan) {
    auto desktop = world->login(kAlice, "desktop", &why_);
    ASSERT_TRUE(desktop) << why_;
    ASSERT_TRUE(desktop->sends_presence_and_collects_flood().complete);
    ASSERT_TRUE(desktop->sets_roster_item(kIvan));
    ASSERT_TRUE(desktop->sends_subscription(kIvan, "subscribe"));
    ASSERT_TRUE(ivan.receives(
        [&](const auto& e) { return is_subscription(e, "subscribe", kAlice); }, Millis(5000)));
    ASSERT_TRUE(ivan.sends_subscription(kAlice, "subscribed"));
    ASSERT_TRUE(ivan.sends_subscription(kAlice, "subscribe"));
    ASSERT_TRUE(desktop->receives(
        [&](const auto& e) { return is_subscription(e, "subscribe", kIvan); }, Millis(5000)));
    ASSERT_TRUE(desktop->sends_subscription(kIvan, "subscribed"));
    ASSERT_TRUE(desktop->settles() && ivan.settles());
    ASSERT_TRUE(ivan.sends_presence(shows(Show::kXa, "gone fishing")));
    ASSERT_TRUE(ivan.settles());
    ASSERT_TRUE(desktop->sets_roster_item("dave@example.test", /*remove=*/true));
    ASSERT_TRUE(desktop->settles());
    desktop->closes();
  }
  std::string state_file() const { return world->server().dir() + "/alice-state.db"; }
  // The second login of `a` (enabled, logged out) is answered "unchanged" and the roster
  // comes from the cache.
  void expect_second_login_from_cache(RpsyncClient& a) {
    ASSERT_EQ(a.reports().roster_from_cache, std::vector<int>{0});
    ASSERT_TRUE(a.login()) << events_of(a);
    const Reports& r = a.reports();
    ASSERT_TRUE(a.session().pump([&] { return r.rosters.size() >= 2; }, Millis(3000)));
    EXPECT_EQ(r.roster_from_cache[1], 1) << "the server answered 'unchanged'\n" << wire_of(a);
    EXPECT_EQ(r.rosters[1], r.rosters[0]);
    EXPECT_TRUE(a.stats().roster_from_cache);
    EXPECT_LT(a.stats().roster_result_bytes, 200u) << "an empty roster result";
    EXPECT_NE(a.session().find_wire(">> ", " ver="), -1) << "the roster get offers its version";
    EXPECT_EQ(r.synced.size(), 1u) << events_of(a);
    expect_view_is_fresh_login(a);
  }
  std::string why_;
};

TEST_F(StropheRoster, UnchangedRosterComesFromTheStateFile) {
  auto a = enabled_alice("laptop", state_file());
  ASSERT_FALSE(HasFailure());
  expect_second_login_from_cache(*a);
}

TEST_F(StropheRoster, UnchangedRosterComesFromTheHandleWithoutStateFile) {
  auto a = enabled_alice();
  ASSERT_FALSE(HasFailure());
  expect_second_login_from_cache(*a);
}

TEST_F(StropheRoster, RosterEditedWhileAwayArrivesWithItsPresence) {
  auto dave = online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  auto ivan = online(kIvan, "home");
  ASSERT_TRUE(dave && ivan);
  settle(*bob);
  auto a = enabled_alice("laptop", state_file());
  ASSERT_FALSE(HasFailure());
  desktop_edits_roster(*ivan);
  ASSERT_FALSE(HasFatalFailure());
  settle(*bob);

  ASSERT_TRUE(a->login()) << events_of(*a);
  const Reports& r = a->reports();
  ASSERT_EQ(r.synced.size(), 1u) << events_of(*a) << "\n" << component_log();
  std::map<std::string, Change> by_jid;
  for (const auto& c : r.synced_changes[0]) by_jid[c.jid] = c;
  ASSERT_EQ(by_jid.size(), 2u);
  EXPECT_EQ(by_jid["ivan@example.test/home"].kind, RPSYNC_STROPHE_AVAILABLE);
  EXPECT_EQ(by_jid["ivan@example.test/home"].fields, shows(Show::kXa, "gone fishing"));
  EXPECT_EQ(by_jid["dave@example.test/pc"].kind, RPSYNC_STROPHE_UNAVAILABLE);
  ASSERT_TRUE(a->session().pump([&] { return a->roster_jids().size() == 3; }, Millis(3000)));
  const std::vector<std::string> want{"bob@example.test", "carol@example.test", kIvan};
  EXPECT_EQ(a->roster_jids(), want);
  expect_view_is_fresh_login(*a);

  // The cached roster and its version are the server's now: the next login is unchanged.
  ASSERT_TRUE(a->logout());
  ASSERT_TRUE(a->login()) << events_of(*a);
  ASSERT_TRUE(a->session().pump([&] { return a->stats().roster_from_cache != 0; }, Millis(3000)))
      << events_of(*a);
  EXPECT_EQ(a->roster_jids(), want);
}

}  // namespace
}  // namespace rpsync::test::strophe
