// SPDX-License-Identifier: MIT
// Scenario 10: the component's roster cache. Every request still makes the
// component fetch alice's roster; with mod_rpsync_gate on Prosody the fetch quotes the
// version it holds and an unchanged roster comes back empty, a changed one in full.
//
//   carol, dave and erin are online; alice/phone logs in, enables (the component fetches
//   her roster in full, with its version), her connection drops
//   alice/phone reconnects and syncs: nothing changed; the roster came back "unchanged"
//   alice/desktop removes dave from her roster and subscribes to ivan, who approves
//   alice/phone reconnects and syncs: contact dave removed with dave/pc unavailable,
//   contact ivan added with ivan/home new; the roster came back in full, a new version
//   alice/phone reconnects and syncs once more: nothing changed; "unchanged" again
//
// The same conversation runs with the cache off (--roster-cache 0, the behaviour before
// the cache) and gives the same deltas. On ejabberd (no versioned roster answer) the cache
// never answers and the deltas are the same too.
#include <sstream>

#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

// Sync answers in the component's log whose roster came the way `source` says
// (plugin/service: "cached", "full" or "unversioned").
std::size_t syncs_with_roster(const std::string& log, std::string_view source) {
  std::istringstream lines(log);
  std::size_t n = 0;
  const std::string field = " roster=" + std::string(source);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" sync.delta ") == std::string::npos) continue;
    const auto at = line.find(field);
    if (at != std::string::npos &&
        (at + field.size() == line.size() || line[at + field.size()] == ' '))
      ++n;
  }
  return n;
}

bool is_subscription(const xml::Element& e, std::string_view type, std::string_view from_bare) {
  return e.name() == "presence" && e.attr("type") == type &&
         proto::bare_of(e.attr("from").value_or("")) == from_bare;
}

template <class Server>
class RosterCached : public Scenario<Server> {
 protected:
  const std::string alice = "alice@example.test";
  const std::string ivan_jid = "ivan@example.test";
  const proto::PresenceFields ivan_home = shows(Show::kXa, "gone fishing");

  // alice/phone reconnects with `key`, syncs (id `id`) and applies the delta to `model`;
  // returns the delta sorted, or nullopt (with a test failure).
  std::optional<proto::Delta> phone_resyncs(proto::SyncKey& key, proto::PresenceState& model,
                                            const std::string& id) {
    auto phone = this->logs_in(alice, "phone");
    if (!phone) return std::nullopt;
    Answer answer = phone->sends_sync(this->component(), id, key);
    std::string why;
    auto delta = delta_of(answer, &why);
    EXPECT_TRUE(delta) << why << "\n" << this->world->component().log();
    if (!delta) return std::nullopt;
    EXPECT_TRUE(proto::apply(model, *delta)) << describe(*delta);
    EXPECT_EQ(proto::digest_of(model), delta->state);
    key = phone->key(id);
    phone->aborts();
    return sorted(*delta);
  }

  // The whole conversation; `cache` false runs the component with --roster-cache 0.
  void converse(bool cache) {
    WorldSpec spec =
        user_with_contacts(alice, {"carol@example.test", "dave@example.test", "erin@example.test"});
    spec.users.push_back(ivan_jid);  // a user alice does not know yet
    spec.rpsync_gate = true;
    if (!cache) spec.component.extra_args = {"--roster-cache", "0"};
    RPSYNC_SCENARIO_START(spec);

    auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway));
    auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
    auto erin = this->comes_online("erin@example.test", "laptop");
    auto ivan = this->comes_online(ivan_jid, "home", ivan_home);
    ASSERT_TRUE(carol && dave && erin && ivan);

    auto phone = this->logs_in(alice, "phone");
    ASSERT_TRUE(phone);
    Flood first = this->flood_of(*phone);
    ASSERT_TRUE(first.complete);
    proto::PresenceState model = first.state;
    ASSERT_EQ(model.size(), 3u) << describe(model);
    ASSERT_TRUE(phone->sends_enable(this->component(), "e1").ok());
    proto::SyncKey key = phone->key("e1");
    phone->aborts();

    // Nothing changed: an empty delta.
    auto unchanged = phone_resyncs(key, model, "s1");
    ASSERT_TRUE(unchanged);
    EXPECT_TRUE(unchanged->empty()) << describe(*unchanged);

    // alice's desktop edits the roster: dave removed, ivan subscribed to (approved).
    auto desktop = this->logs_in(alice, "desktop");
    ASSERT_TRUE(desktop);
    ASSERT_TRUE(this->flood_of(*desktop).complete);
    ASSERT_TRUE(desktop->sets_roster_item("dave@example.test", /*remove=*/true));
    ASSERT_TRUE(desktop->sets_roster_item(ivan_jid));
    ASSERT_TRUE(desktop->sends_subscription(ivan_jid, "subscribe"));
    ASSERT_TRUE(ivan->receives(
        [&](const xml::Element& e) { return is_subscription(e, "subscribe", alice); }));
    ASSERT_TRUE(ivan->sends_subscription(alice, "subscribed"));
    ASSERT_TRUE(ivan->settles() && desktop->settles());
    ASSERT_TRUE(ivan->sends_presence(ivan_home));  // a client re-announces after a handshake
    ASSERT_TRUE(ivan->settles());
    desktop->closes();

    auto edited = phone_resyncs(key, model, "s2");
    ASSERT_TRUE(edited);
    const std::vector<proto::ContactChange> contacts{
        {"dave@example.test", proto::ContactChange::Kind::kRemoved},
        {ivan_jid, proto::ContactChange::Kind::kAdded}};
    EXPECT_EQ(edited->contacts, contacts) << describe(*edited);
    const std::vector<proto::NewResource> added{{ivan_jid + "/home", ivan_home}};
    EXPECT_EQ(edited->added, added) << describe(*edited);
    EXPECT_TRUE(edited->changed.empty()) << describe(*edited);
    EXPECT_EQ(edited->unavailable, std::vector<std::string>{"dave@example.test/pc"})
        << describe(*edited);

    // Nothing changed since: an empty delta, against the edited roster.
    auto again = phone_resyncs(key, model, "s3");
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty()) << describe(*again);
    this->expect_model_is_fresh_login(model, alice);

    const std::string log = this->world->component().log();
    const std::size_t cached = syncs_with_roster(log, "cached");
    const std::size_t full = syncs_with_roster(log, "full");
    const std::size_t unversioned = syncs_with_roster(log, "unversioned");
    EXPECT_EQ(cached + full + unversioned, 3u) << log;
    EXPECT_EQ(log.find("roster.refetch"), std::string::npos)
        << "no server refused or garbled a versioned roster get\n"
        << log;
    if (cache && ServerTraits<Server>::kVersionsComponentRoster) {
      EXPECT_EQ(cached, 2u) << "the unchanged roster came back empty for syncs 1 and 3\n" << log;
      EXPECT_EQ(full, 1u) << "the edited roster came back in full for sync 2\n" << log;
    } else {
      EXPECT_EQ(unversioned, 3u) << "no version, no cache: every roster in full\n" << log;
    }
    this->report(std::string("10 roster cache ") + (cache ? "on" : "off"),
                 "sync rosters: " + std::to_string(cached) + " cached, " + std::to_string(full) +
                     " full, " + std::to_string(unversioned) + " unversioned");
  }
};
TYPED_TEST_SUITE(RosterCached, Servers, ServerNames);

TYPED_TEST(RosterCached, UnchangedRosterComesBackEmptyAndEditsAreSeen) {
  this->converse(true);
}

TYPED_TEST(RosterCached, SameDeltasWithTheCacheOff) {
  this->converse(false);
}

}  // namespace
}  // namespace rpsync::test::scenario
