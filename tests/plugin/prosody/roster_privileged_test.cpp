// SPDX-License-Identifier: MIT
// mod_rpsync_gate's versioned privileged roster get (plugin/prosody, README "Versioned
// roster for the component") against a real Prosody with mod_privilege: alice has 3
// contacts; the component rpsync.example.test has roster 'get'; norights.example.test is a
// privileged entity without roster permission.
#include <gtest/gtest.h>

#include <string>

#include "protocol/ns.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/prosody/roster_world.h"

namespace rpsync::test::rosterver {
namespace {

#define CONNECT_COMPONENT_OR_FAIL(var, server, jid)                                         \
  std::string var##_why;                                                                    \
  auto var = RawComponent::connect((server)->component_port(), (jid),                       \
                                   (server)->options().component_secret, true, &var##_why); \
  ASSERT_TRUE(var) << var##_why

std::string stanza_error(const xml::Element& iq) {
  if (iq.attr("type") != "error") return {};
  const xml::Element* e = iq.child("error", ns::kComponent);
  if (!e) e = iq.child("error", ns::kClient);
  if (!e) return "?";
  for (const auto& c : e->children())
    if (c.ns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name() != "text") return c.name();
  return "?";
}

// c<i> cancels alice's subscription to it: Prosody turns alice's item 'both' into 'from'
// and bumps alice's roster version.
void cancel_subscription_of(ProsodyServer& server, int contact) {
  std::string why;
  auto c = TestClient::login(server.c2s_port(), "c" + std::to_string(contact), kHost, kPassword,
                             "r", &why);
  ASSERT_TRUE(c) << why;
  xml::Element p("presence", std::string(ns::kClient));
  p.set_attr("to", kAlice);
  p.set_attr("type", "unsubscribed");
  ASSERT_TRUE(c->send(p));
  // A round trip on the same connection: the presence was processed before the answer.
  xml::Element ping = roster_get("sync-1", std::nullopt, std::nullopt, ns::kClient);
  ASSERT_TRUE(c->send(ping));
  ASSERT_TRUE(
      c->wait_for([](const xml::Element& e) { return e.attr("id") == "sync-1"; }, kTimeout));
  c->close();
}

TEST(RosterVersionPrivileged, CurrentVerGetsEmptyResultStaleVerTheFullRoster) {
  START_SERVER_OR_SKIP(server, RosterServerOptions{});
  CONNECT_COMPONENT_OR_FAIL(comp, server, server->options().component_jid);

  // ver='' = versioning supported, nothing cached (RFC 6121 §2.6.2).
  auto first = comp->request(roster_get("a1", kAlice, "", ns::kComponent));
  ASSERT_TRUE(first) << server->log();
  ASSERT_EQ(first->attr("type"), "result") << xml::to_string(*first);
  const xml::Element* q = roster_query(*first);
  ASSERT_NE(q, nullptr) << xml::to_string(*first);
  ASSERT_TRUE(q->attr("ver")) << "no version offered: " << xml::to_string(*first);
  const std::string v1(*q->attr("ver"));
  Roster r1 = parse_roster(*q);
  EXPECT_EQ(r1.size(), 3u) << describe(r1);
  EXPECT_EQ(r1["c0@example.test"].subscription, "both");

  auto same = comp->request(roster_get("a2", kAlice, v1, ns::kComponent));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->attr("type"), "result");
  EXPECT_EQ(roster_query(*same), nullptr)
      << "unchanged roster must be an empty result: " << xml::to_string(*same);

  cancel_subscription_of(*server, 0);

  auto stale = comp->request(roster_get("a3", kAlice, v1, ns::kComponent));
  ASSERT_TRUE(stale);
  ASSERT_EQ(stale->attr("type"), "result") << xml::to_string(*stale);
  q = roster_query(*stale);
  ASSERT_NE(q, nullptr) << "stale ver must get the full roster: " << xml::to_string(*stale);
  ASSERT_TRUE(q->attr("ver"));
  const std::string v2(*q->attr("ver"));
  EXPECT_NE(v2, v1);
  Roster r2 = parse_roster(*q);
  EXPECT_EQ(r2.size(), 3u) << describe(r2);
  EXPECT_EQ(r2["c0@example.test"].subscription, "from") << describe(r2);
  EXPECT_EQ(r2["c1@example.test"].subscription, "both");

  // The new version is current now; the old one stays stale.
  auto now_same = comp->request(roster_get("a4", kAlice, v2, ns::kComponent));
  ASSERT_TRUE(now_same);
  EXPECT_EQ(roster_query(*now_same), nullptr) << xml::to_string(*now_same);
  auto garbage = comp->request(roster_get("a5", kAlice, "not-a-version", ns::kComponent));
  ASSERT_TRUE(garbage);
  ASSERT_NE(roster_query(*garbage), nullptr);
  EXPECT_EQ(roster_query(*garbage)->attr("ver"), v2);
}

// Prosody restarts a roster's versions at 1 when an account is deleted and created again
// (here: its roster file rewritten from scratch while Prosody is down, as prosodyctl
// deluser + adduser would leave it). A version handed out for the old account must not
// match the new one, or the component would keep using the old account's contacts.
TEST(RosterVersionPrivileged, RecreatedAccountNeverMatchesAnOldVersion) {
  START_SERVER_OR_SKIP(server, RosterServerOptions{});
  std::string v1;
  {
    CONNECT_COMPONENT_OR_FAIL(comp, server, server->options().component_jid);
    auto first = comp->request(roster_get("r1", kAlice, "", ns::kComponent));
    ASSERT_TRUE(first && roster_query(*first) && roster_query(*first)->attr("ver"))
        << server->log();
    v1 = std::string(*roster_query(*first)->attr("ver"));
  }
  server->stop();
  server->add_roster_item(kAlice, "c3@example.test", "both");  // rewrites it: version 1
  ASSERT_TRUE(server->launch()) << server->log();
  CONNECT_COMPONENT_OR_FAIL(comp, server, server->options().component_jid);
  auto again = comp->request(roster_get("r2", kAlice, v1, ns::kComponent));
  ASSERT_TRUE(again) << server->log();
  ASSERT_EQ(again->attr("type"), "result") << xml::to_string(*again);
  const xml::Element* q = roster_query(*again);
  ASSERT_NE(q, nullptr) << "the old account's version " << v1
                        << " was taken as current: " << xml::to_string(*again);
  ASSERT_TRUE(q->attr("ver"));
  EXPECT_NE(std::string(*q->attr("ver")), v1);
  Roster r = parse_roster(*q);
  EXPECT_EQ(r.count("c3@example.test"), 1u) << describe(r);
}

TEST(RosterVersionPrivileged, GetWithoutVerIsModPrivilegesAnswer) {
  START_SERVER_OR_SKIP(server, RosterServerOptions{});
  CONNECT_COMPONENT_OR_FAIL(comp, server, server->options().component_jid);
  auto plain = comp->request(roster_get("b1", kAlice, std::nullopt, ns::kComponent));
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->attr("type"), "result") << xml::to_string(*plain);
  const xml::Element* q = roster_query(*plain);
  ASSERT_NE(q, nullptr);
  EXPECT_FALSE(q->attr("ver")) << "a get without ver is mod_privilege's: "
                               << xml::to_string(*plain);
  auto versioned = comp->request(roster_get("b2", kAlice, "", ns::kComponent));
  ASSERT_TRUE(versioned && roster_query(*versioned));
  EXPECT_EQ(parse_roster(*q), parse_roster(*roster_query(*versioned)))
      << "the versioned answer lists the same items as mod_privilege's";
}

TEST(RosterVersionPrivileged, ComponentWithoutRosterPrivilegeIsNotAnsweredByUs) {
  START_SERVER_OR_SKIP(server, RosterServerOptions{});
  CONNECT_COMPONENT_OR_FAIL(comp, server, kNoRightsComponent);
  for (const char* ver : {"", "1", "999"}) {
    auto a =
        comp->request(roster_get(std::string("n") + ver, kAlice, std::string(ver), ns::kComponent));
    ASSERT_TRUE(a);
    EXPECT_EQ(stanza_error(*a), "forbidden") << "ver='" << ver << "': " << xml::to_string(*a);
    EXPECT_EQ(roster_query(*a), nullptr) << xml::to_string(*a);
  }
}

TEST(RosterVersionPrivileged, ClientCannotUseItForAnotherUser) {
  RosterServerOptions o;
  o.extra_users = {"eve"};
  START_SERVER_OR_SKIP(server, o);
  std::string why;
  auto eve = TestClient::login(server->c2s_port(), "eve", kHost, kPassword, "r", &why);
  ASSERT_TRUE(eve) << why;
  for (const char* ver : {"", "1", "0"}) {
    std::string id = std::string("e") + ver;
    ASSERT_TRUE(eve->send(roster_get(id, kAlice, std::string(ver), ns::kClient)));
    auto a = eve->wait_for([&](const xml::Element& e) { return e.attr("id") == id; }, kTimeout);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->attr("type"), "error") << xml::to_string(*a);
    EXPECT_EQ(stanza_error(*a), "forbidden") << xml::to_string(*a);
    EXPECT_EQ(roster_query(*a), nullptr) << "leaked alice's roster: " << xml::to_string(*a);
  }
}

TEST(RosterVersionPrivileged, WithoutTheModuleVerIsIgnored) {
  RosterServerOptions o;
  o.load_module = false;
  START_SERVER_OR_SKIP(server, o);
  CONNECT_COMPONENT_OR_FAIL(comp, server, server->options().component_jid);
  auto a = comp->request(roster_get("c1", kAlice, "1", ns::kComponent));
  ASSERT_TRUE(a);
  const xml::Element* q = roster_query(*a);
  ASSERT_NE(q, nullptr) << "control: mod_privilege alone always sends the roster";
  EXPECT_FALSE(q->attr("ver")) << "control: mod_privilege alone does not version";
}

}  // namespace
}  // namespace rpsync::test::rosterver
