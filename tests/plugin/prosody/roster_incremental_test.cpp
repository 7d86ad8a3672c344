// SPDX-License-Identifier: MIT
// mod_rpsync_gate's incremental roster for the user's own clients (plugin/prosody, README
// "Incremental roster for clients") against a real Prosody: alice has 10 contacts
// c0..c9 ('both'); her clients are raw TestClients that request the roster themselves.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/ns.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/prosody/gate_world.h"
#include "tests/plugin/prosody/roster_world.h"

namespace rpsync::test::rosterver {
namespace {

constexpr int kContacts = 10;

RosterServerOptions ten_contacts(bool load_module = true) {
  RosterServerOptions o;
  o.contacts = kContacts;
  o.load_module = load_module;
  return o;
}

std::unique_ptr<TestClient> login(ProsodyServer& server, const std::string& user,
                                  const std::string& resource) {
  std::string why;
  auto c = TestClient::login(server.c2s_port(), user, kHost, kPassword, resource, &why);
  EXPECT_TRUE(c) << why;
  return c;
}

// What a client receives for its roster get: the answer, then everything else the server
// sent before answering a ping sent right after (pushes are sent synchronously).
struct RosterAnswer {
  std::optional<xml::Element> result;
  std::vector<xml::Element> pushes;  // roster pushes, in order
  std::size_t other = 0;             // any other stanza
};

RosterAnswer get_roster(TestClient& c, std::optional<std::string> ver) {
  static int counter = 0;
  std::string id = "roster-" + std::to_string(++counter);
  RosterAnswer a;
  if (!c.send(roster_get(id, std::nullopt, ver, ns::kClient))) return a;
  a.result = c.wait_for([&](const xml::Element& e) { return e.attr("id") == id; }, kTimeout);
  gate::Received rest = gate::collect_until_ping(c);
  EXPECT_TRUE(rest.complete);
  for (auto& s : rest.stanzas) {
    if (s.is("iq", ns::kClient) && s.attr("type") == "set" && roster_query(s))
      a.pushes.push_back(std::move(s));
    else
      ++a.other;
  }
  return a;
}

// The full roster and its version, as a client without cache sees it (ver='').
std::pair<Roster, std::string> full_roster(TestClient& c) {
  RosterAnswer a = get_roster(c, "");
  EXPECT_TRUE(a.result && roster_query(*a.result));
  if (!a.result || !roster_query(*a.result)) return {};
  return {parse_roster(*roster_query(*a.result)),
          std::string(roster_query(*a.result)->attr("ver").value_or(""))};
}

bool roster_set(TestClient& c, const std::string& jid, const std::string& subscription,
                const std::string& name = {}, const std::string& group = {}) {
  static int counter = 0;
  std::string id = "set-" + std::to_string(++counter);
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", id);
  xml::Element& item = iq.add(xml::Element("query", std::string(ns::kRoster)))
                           .add(xml::Element("item", std::string(ns::kRoster)));
  item.set_attr("jid", jid);
  if (!subscription.empty()) item.set_attr("subscription", subscription);
  if (!name.empty()) item.set_attr("name", name);
  if (!group.empty()) item.add(xml::Element("group", std::string(ns::kRoster))).set_text(group);
  if (!c.send(iq)) return false;
  auto a = c.wait_for([&](const xml::Element& e) { return e.attr("id") == id; }, kTimeout);
  return a && a->attr("type") == "result";
}

// c<i> cancels alice's subscription: alice's item turns from 'both' into 'from'.
void cancel_subscription_of(ProsodyServer& server, int contact) {
  auto c = login(server, "c" + std::to_string(contact), "r");
  ASSERT_TRUE(c);
  xml::Element p("presence", std::string(ns::kClient));
  p.set_attr("to", kAlice);
  p.set_attr("type", "unsubscribed");
  ASSERT_TRUE(c->send(p));
  ASSERT_TRUE(gate::collect_until_ping(*c).complete);
  c->close();
}

bool is_decimal(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

TEST(RosterIncremental, UnchangedVerGetsEmptyResult) {
  START_SERVER_OR_SKIP(server, ten_contacts());
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [r1, v1] = full_roster(*phone);
  ASSERT_EQ(r1.size(), static_cast<std::size_t>(kContacts));
  phone->close();
  phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  RosterAnswer a = get_roster(*phone, v1);
  ASSERT_TRUE(a.result);
  EXPECT_EQ(a.result->attr("type"), "result");
  EXPECT_EQ(roster_query(*a.result), nullptr) << xml::to_string(*a.result);
  EXPECT_TRUE(a.pushes.empty());
}

TEST(RosterIncremental, ChangesWhileOfflineArriveAsPushes) {
  START_SERVER_OR_SKIP(server, ten_contacts());
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [old_roster, old_ver] = full_roster(*phone);
  ASSERT_EQ(old_roster.size(), static_cast<std::size_t>(kContacts));
  ASSERT_TRUE(is_decimal(old_ver)) << old_ver;
  phone->close();

  // While the phone is away: the desk adds an item and removes one, and c2 cancels
  // alice's subscription. The desk asked for its roster, so it gets the pushes live.
  auto desk = login(*server, "alice", "desk");
  ASSERT_TRUE(desk);
  ASSERT_TRUE(get_roster(*desk, std::nullopt).result);
  ASSERT_TRUE(roster_set(*desk, "new@example.test", "", "New One", "Friends"));
  ASSERT_TRUE(roster_set(*desk, "c1@example.test", "remove"));
  cancel_subscription_of(*server, 2);
  ASSERT_TRUE(gate::collect_until_ping(*desk).complete);  // drain the desk's pushes

  phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  RosterAnswer a = get_roster(*phone, old_ver);
  ASSERT_TRUE(a.result);
  EXPECT_EQ(a.result->attr("type"), "result");
  EXPECT_EQ(roster_query(*a.result), nullptr)
      << "expected an empty result, got: " << xml::to_string(*a.result);
  ASSERT_EQ(a.pushes.size(), 3u) << server->log();
  EXPECT_EQ(a.other, 0u);

  std::vector<std::string> pushed;
  Roster applied = old_roster;
  for (const auto& p : a.pushes) {
    ASSERT_TRUE(apply_push(applied, p)) << xml::to_string(p);
    pushed.emplace_back(roster_query(p)->children()[0].attr("jid").value_or(""));
  }
  EXPECT_EQ(pushed,
            (std::vector<std::string>{"c1@example.test", "c2@example.test", "new@example.test"}));

  // The reference: what a client without cache gets now.
  auto laptop = login(*server, "alice", "laptop");
  ASSERT_TRUE(laptop);
  auto [current, current_ver] = full_roster(*laptop);
  EXPECT_EQ(applied, current) << "applied:\n"
                              << describe(applied) << "current:\n"
                              << describe(current);
  EXPECT_EQ(current["c2@example.test"].subscription, "from");
  EXPECT_EQ(current.count("c1@example.test"), 0u);
  EXPECT_EQ(current["new@example.test"].name, "New One");

  std::string last_ver(roster_query(a.pushes.back())->attr("ver").value_or(""));
  EXPECT_EQ(last_ver, current_ver) << "the last push carries the current version";
  for (std::size_t i = 0; i + 1 < a.pushes.size(); ++i) {
    std::string v(roster_query(a.pushes[i])->attr("ver").value_or(""));
    EXPECT_FALSE(is_decimal(v)) << "intermediate push " << i << " has a real-looking ver " << v;
    // A client cut off after this push asks with it next time: full roster.
    RosterAnswer cut = get_roster(*laptop, v);
    ASSERT_TRUE(cut.result && roster_query(*cut.result)) << "ver " << v;
    EXPECT_EQ(parse_roster(*roster_query(*cut.result)), current);
    EXPECT_TRUE(cut.pushes.empty());
  }

  // The desk (another client of the same account) saw none of this.
  gate::Received desk_rest = gate::collect_until_ping(*desk);
  ASSERT_TRUE(desk_rest.complete);
  EXPECT_TRUE(desk_rest.stanzas.empty()) << xml::to_string(desk_rest.stanzas.front());

  // Now the phone is current and receives live pushes like any interested resource.
  ASSERT_TRUE(roster_set(*desk, "c3@example.test", "remove"));
  auto live = phone->wait_for(
      [](const xml::Element& e) { return e.attr("type") == "set" && roster_query(e); }, kTimeout);
  ASSERT_TRUE(live) << "the phone is not interested in pushes";
  EXPECT_EQ(roster_query(*live)->children()[0].attr("jid"), "c3@example.test");
}

TEST(RosterIncremental, UnknownVerGetsFullRoster) {
  START_SERVER_OR_SKIP(server, ten_contacts());
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [r1, v1] = full_roster(*phone);
  phone->close();
  // Two changes nobody is online for: the intermediate version was never given out.
  cancel_subscription_of(*server, 0);
  cancel_subscription_of(*server, 1);
  phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [current, current_ver] = full_roster(*phone);
  ASSERT_NE(current_ver, v1);
  const std::string never_given = std::to_string(std::stoll(current_ver) - 1);
  ASSERT_NE(never_given, v1);
  for (const std::string& ver :
       {never_given, std::string("999999"), std::string("abc"), std::string("0" + v1)}) {
    RosterAnswer a = get_roster(*phone, ver);
    ASSERT_TRUE(a.result) << ver;
    const xml::Element* q = roster_query(*a.result);
    ASSERT_NE(q, nullptr) << "ver '" << ver << "' must get the full roster";
    EXPECT_EQ(parse_roster(*q), current);
    EXPECT_EQ(q->attr("ver"), current_ver);
    EXPECT_TRUE(a.pushes.empty()) << ver;
  }
}

TEST(RosterIncremental, ClientWithoutVerGetsFullRosterAsBefore) {
  START_SERVER_OR_SKIP(server, ten_contacts());
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [r1, v1] = full_roster(*phone);
  cancel_subscription_of(*server, 0);
  auto desk = login(*server, "alice", "desk");
  ASSERT_TRUE(desk);
  RosterAnswer a = get_roster(*desk, std::nullopt);
  ASSERT_TRUE(a.result && roster_query(*a.result));
  Roster r = parse_roster(*roster_query(*a.result));
  EXPECT_EQ(r.size(), static_cast<std::size_t>(kContacts));
  EXPECT_EQ(r["c0@example.test"].subscription, "from");
  EXPECT_TRUE(a.pushes.empty());
}

// The phone takes version V; the desk then changes the roster while the phone is away.
// Returns the phone's roster and version before the change.
std::pair<Roster, std::string> phone_then_desk_edits(ProsodyServer& server,
                                                     const std::vector<std::string>& removals) {
  auto phone = login(server, "alice", "phone");
  if (!phone) return {};
  auto before = full_roster(*phone);
  phone->close();
  auto desk = login(server, "alice", "desk");
  if (!desk) return {};
  EXPECT_TRUE(get_roster(*desk, std::nullopt).result);
  for (const auto& jid : removals) EXPECT_TRUE(roster_set(*desk, jid, "remove")) << jid;
  desk->close();
  return before;
}

TEST(RosterIncremental, InvisibleChangeGetsOnePushCarryingTheNewVersion) {
  RosterServerOptions o = ten_contacts();
  o.extra_users = {"eve"};
  START_SERVER_OR_SKIP(server, o);
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [old_roster, old_ver] = full_roster(*phone);
  phone->close();
  // eve's subscription request is stored as pending: the version moves, no item changes.
  auto eve = login(*server, "eve", "r");
  ASSERT_TRUE(eve);
  xml::Element p("presence", std::string(ns::kClient));
  p.set_attr("to", kAlice);
  p.set_attr("type", "subscribe");
  ASSERT_TRUE(eve->send(p));
  ASSERT_TRUE(gate::collect_until_ping(*eve).complete);

  auto laptop = login(*server, "alice", "laptop");
  ASSERT_TRUE(laptop);
  auto [current, current_ver] = full_roster(*laptop);
  ASSERT_NE(current_ver, old_ver) << "precondition: a pending request bumps the version";
  ASSERT_EQ(current, old_roster);

  phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  RosterAnswer a = get_roster(*phone, old_ver);
  ASSERT_TRUE(a.result);
  EXPECT_EQ(roster_query(*a.result), nullptr) << xml::to_string(*a.result);
  ASSERT_EQ(a.pushes.size(), 1u);
  Roster applied = old_roster;
  ASSERT_TRUE(apply_push(applied, a.pushes[0]));
  EXPECT_EQ(applied, current);
  EXPECT_EQ(roster_query(a.pushes[0])->attr("ver"), current_ver);
}

// The phone holds version V, the desk removes `removals` while the phone is away; the
// phone's get with V must be answered with the full roster (and no pushes).
void expect_full_roster_after(const RosterServerOptions& options,
                              const std::vector<std::string>& removals, const char* why) {
  START_SERVER_OR_SKIP(server, options);
  auto [before, ver] = phone_then_desk_edits(*server, removals);
  ASSERT_FALSE(ver.empty());
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  RosterAnswer a = get_roster(*phone, ver);
  ASSERT_TRUE(a.result);
  ASSERT_NE(roster_query(*a.result), nullptr) << why << " (ver " << ver << ")";
  EXPECT_EQ(parse_roster(*roster_query(*a.result)).size(), before.size() - removals.size());
  EXPECT_TRUE(a.pushes.empty());
}

TEST(RosterIncremental, DiffOverHalfTheRosterGetsFullRoster) {
  expect_full_roster_after(ten_contacts(),
                           {"c0@example.test", "c1@example.test", "c2@example.test",
                            "c3@example.test", "c4@example.test", "c5@example.test"},
                           "6 pushes for a 4-item roster");
}

TEST(RosterIncremental, EvictedSnapshotGetsFullRoster) {
  RosterServerOptions o = ten_contacts();
  o.host_config = "  rpsync_roster_snapshot_versions = 1";
  // The desk's push records the new version, which evicts the phone's (one kept).
  expect_full_roster_after(o, {"c0@example.test"}, "no snapshot left");
}

TEST(RosterIncremental, DisabledByOption) {
  RosterServerOptions o = ten_contacts();
  o.host_config = "  rpsync_incremental_roster = false";
  expect_full_roster_after(o, {"c0@example.test"}, "the feature is off");
}

TEST(RosterIncremental, WithoutTheModuleAStaleVerGetsFullRoster) {
  START_SERVER_OR_SKIP(server, ten_contacts(false));
  auto phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  auto [r1, v1] = full_roster(*phone);
  phone->close();
  cancel_subscription_of(*server, 0);
  phone = login(*server, "alice", "phone");
  ASSERT_TRUE(phone);
  RosterAnswer a = get_roster(*phone, v1);
  ASSERT_TRUE(a.result);
  EXPECT_NE(roster_query(*a.result), nullptr) << "control: mod_roster sends the full roster";
  EXPECT_TRUE(a.pushes.empty());
}

}  // namespace
}  // namespace rpsync::test::rosterver
