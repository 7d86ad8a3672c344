// SPDX-License-Identifier: MIT
// Connection-level facts about ejabberd 23.01 as a host for the rpsync component, measured
// with the component's own connection layer (rpsync::xmpp::Connection) against a real
// ejabberd started by the test harness (loopback, own config, spool and ports), and raw c2s
// test clients. Each test asserts what was observed and prints the numbers, so a different
// ejabberd behaviour fails loudly here. docs/ejabberd.md summarises the results.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <cstdio>
#include <map>

#include "plugin/xmpp/connection.h"
#include "protocol/ns.h"
#include "tests/harness/ejabberd/ejabberd_server.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/xmpp/support.h"

namespace rpsync::xmpp {
namespace {

using namespace std::chrono_literals;
using test::EjabberdOptions;
using test::EjabberdServer;
using test::TestClient;
using testing::CapturingLogger;
using testing::RecordingHandler;
using testing::run_for;
using testing::run_until;

constexpr const char* kHost = "example.test";

ComponentConfig config_for(const EjabberdServer& server) {
  ComponentConfig c;
  c.port = server.component_port();
  c.component_jid = server.options().component_jid;
  c.secret = server.options().component_secret;
  c.served_hosts = server.options().hosts;
  c.backoff_min = 100ms;
  c.backoff_max = 400ms;
  c.privilege_timeout = 3000ms;  // ejabberd advertises asynchronously
  c.close_timeout = 1000ms;
  return c;
}

bool is_presence_from(const xml::Element& e, std::string_view from, std::string_view type = {}) {
  return e.is("presence", ns::kComponent) && e.attr("from").value_or("") == from &&
         e.attr("type").value_or("") == type;
}

class EjabberdFacts : public ::testing::Test {
 protected:
  asio::io_context io;
  RecordingHandler handler;
  CapturingLogger logger;
  std::unique_ptr<EjabberdServer> server;
  std::unique_ptr<Connection> conn;

  // Starts ejabberd with users `names` (password "pw-NAME") who all have each other on
  // their rosters with subscription both, then connects the component and waits until it
  // is ready. Skips when ejabberd is not installed.
  void start_with_users(const std::vector<std::string>& names, EjabberdOptions o = {}) {
    std::string why;
    server = EjabberdServer::create(o, &why);
    if (!server) GTEST_SKIP() << why;
    for (const auto& n : names) server->add_user(n, kHost, "pw-" + n);
    for (const auto& a : names)
      for (const auto& b : names)
        if (a != b) server->add_roster_item(a + "@" + kHost, b + "@" + kHost, "both");
    ASSERT_TRUE(server->launch()) << server->log();
    std::printf("[ejabberd] launch (VM start, ports up, %zu users + rosters): %.2f s\n",
                names.size(), server->last_launch_seconds());
    conn = std::make_unique<Connection>(io, config_for(*server), handler, logger);
    conn->start();
    ASSERT_TRUE(wait([&] { return conn->ready(); }, 10s)) << logger.all() << server->log();
  }

  std::unique_ptr<TestClient> login(const std::string& user, const std::string& resource) {
    std::string why;
    auto c = TestClient::login(server->c2s_port(), user, kHost, "pw-" + user, resource, &why);
    EXPECT_TRUE(c) << why << "\n" << server->log();
    return c;
  }

  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds t = 5s) {
    return run_until(io, pred, t);
  }
  std::size_t count_presence(std::string_view from, std::string_view type = {}) const {
    std::size_t n = 0;
    for (const auto& s : handler.stanzas) n += is_presence_from(s, from, type);
    return n;
  }
  // Sends a privileged-style IQ from the component and waits for its outcome.
  proto::Result<xml::Element> request(xml::Element iq, std::chrono::milliseconds t = 3s) {
    std::optional<proto::Result<xml::Element>> result;
    conn->send_iq(std::move(iq), t, [&](proto::Result<xml::Element> r) { result = std::move(r); });
    wait([&] { return result.has_value(); }, t + 1s);
    if (!result) return proto::StanzaError{};
    return std::move(*result);
  }
  static xml::Element roster_get(const std::string& bare) {
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("to", bare);
    iq.add(xml::Element("query", std::string(ns::kRoster)));
    return iq;
  }
};

TEST_F(EjabberdFacts, HandshakeAndPrivilegeAdvertisementV1) {
  start_with_users({});
  if (IsSkipped()) return;
  ASSERT_FALSE(handler.connected.empty());
  const Privileges& p = conn->privileges();
  ASSERT_TRUE(p.has(kHost)) << logger.all();
  EXPECT_EQ(p.hosts.at(kHost).ns, ns::kPrivilege1);
  EXPECT_EQ(p.hosts.at(kHost).roster, RosterAccess::kGet);
  EXPECT_EQ(p.hosts.at(kHost).presence, PresenceAccess::kRoster);
  EXPECT_TRUE(conn->ready());
  EXPECT_TRUE(handler.disconnected.empty());
}

TEST_F(EjabberdFacts, WithoutAccessRulesNothingIsGrantedAndTheConnectionIsNotReady) {
  EjabberdOptions o;
  o.grant_privileges = false;  // mod_privilege loaded, no roster/presence rules
  std::string why;
  server = EjabberdServer::start(o, &why);
  if (!server && !EjabberdServer::find_executable()) GTEST_SKIP() << why;
  ASSERT_TRUE(server) << why;
  auto c = config_for(*server);
  c.privilege_timeout = 1500ms;
  conn = std::make_unique<Connection>(io, c, handler, logger);
  conn->start();
  ASSERT_TRUE(wait([&] { return !handler.connected.empty(); })) << logger.all();
  EXPECT_FALSE(conn->ready());
  EXPECT_FALSE(conn->privileges().sufficient_for(kHost));
  std::printf("[ejabberd] without rules: advertised hosts=%zu\n", conn->privileges().hosts.size());
}

TEST_F(EjabberdFacts, PrivilegedRosterGetWorksOnlineAndOffline) {
  start_with_users({"alice", "bob", "carol"});
  if (IsSkipped()) return;
  auto check = [&](const char* when) {
    auto r = request(roster_get("alice@example.test"));
    ASSERT_TRUE(r.ok()) << when << ": " << proto::to_string(r.error().condition) << " "
                        << r.error().text;
    const xml::Element* q = r->child("query", ns::kRoster);
    ASSERT_NE(q, nullptr);
    std::map<std::string, std::string> items;
    for (const auto& item : q->children())
      items[std::string(item.attr("jid").value_or(""))] =
          std::string(item.attr("subscription").value_or(""));
    EXPECT_EQ(items, (std::map<std::string, std::string>{{"bob@example.test", "both"},
                                                         {"carol@example.test", "both"}}))
        << when;
  };
  check("offline");
  auto alice = login("alice", "desk");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_presence());
  check("online");
}

TEST_F(EjabberdFacts, PresenceIsForwardedOnceForEachReceivingSession) {
  start_with_users({"alice", "bob", "carol"});
  if (IsSkipped()) return;
  auto bob = login("bob", "b");
  auto carol = login("carol", "c");
  ASSERT_TRUE(bob && carol);
  ASSERT_TRUE(bob->send_presence());
  ASSERT_TRUE(carol->send_presence());
  run_for(io, 500ms);
  handler.stanzas.clear();

  // One broadcast by alice: ejabberd delivers it to alice's own session, bob's and carol's.
  auto alice = login("alice", "desk");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_presence("away", "lunch"));
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/desk") > 0; })) << logger.all();
  run_for(io, 1000ms);  // let every copy arrive
  std::size_t copies = count_presence("alice@example.test/desk");
  std::printf("[ejabberd] copies of one available broadcast, 2 contacts online: %zu\n", copies);
  // Observed on 23.01: one copy per receiving session (alice's own + bob + carol) = 3.
  EXPECT_EQ(copies, 3u);
  for (const auto& s : handler.stanzas)
    if (is_presence_from(s, "alice@example.test/desk")) {
      EXPECT_EQ(s.child_text("show"), "away");
      EXPECT_EQ(s.child_text("status"), "lunch");
    }

  // A graceful logout: the unavailable broadcast is forwarded too.
  alice->close();
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/desk", "unavailable") > 0; }))
      << logger.all();
  run_for(io, 1000ms);
  std::size_t unavail = count_presence("alice@example.test/desk", "unavailable");
  std::printf("[ejabberd] copies of a graceful unavailable, 2 contacts online: %zu\n", unavail);
  EXPECT_GE(unavail, 1u);
}

// mod_privilege forwards a presence from two hooks: user_send_packet (what a client itself
// sends: one copy) and user_receive_packet (one copy per local session of another user that
// receives it). The unavailable ejabberd generates for a dropped TCP connection is never
// "sent" by the client, so it reaches the component only through contacts' sessions.
TEST_F(EjabberdFacts, ImplicitUnavailableIsForwardedOnlyThroughOnlineContacts) {
  start_with_users({"alice", "bob"});
  if (IsSkipped()) return;
  auto bob = login("bob", "b");
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->send_presence());
  auto alice = login("alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/phone") > 0; }));

  // (a) a contact is online: the server tells bob, and bob's session forwards one copy.
  alice->abort();
  auto seen_by_bob = bob->wait_for(
      [](const xml::Element& e) {
        return e.is("presence", ns::kClient) &&
               e.attr("from").value_or("") == "alice@example.test/phone" &&
               e.attr("type").value_or("") == "unavailable";
      },
      5s);
  ASSERT_TRUE(seen_by_bob) << "ejabberd did not notice the TCP abort\n" << server->log();
  run_for(io, 1500ms);
  std::size_t with_contact = count_presence("alice@example.test/phone", "unavailable");
  std::printf("[ejabberd] implicit unavailable after TCP abort, 1 contact online: %zu copies\n",
              with_contact);
  EXPECT_EQ(with_contact, 1u);

  // (b) no contact online: nobody receives it, so the component hears nothing at all.
  bob->close();
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/b", "unavailable") > 0; }));
  run_for(io, 500ms);
  // A graceful unavailable is what the client sends: forwarded even with no contact online.
  std::printf("[ejabberd] graceful unavailable, no contact online: %zu copies\n",
              count_presence("bob@example.test/b", "unavailable"));
  EXPECT_EQ(count_presence("bob@example.test/b", "unavailable"), 1u);
  auto alice2 = login("alice", "tablet");
  ASSERT_TRUE(alice2);
  ASSERT_TRUE(alice2->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/tablet") > 0; }));
  alice2->abort();
  run_for(io, 2500ms);
  std::size_t alone = count_presence("alice@example.test/tablet", "unavailable");
  std::printf("[ejabberd] implicit unavailable after TCP abort, no contact online: %zu copies\n",
              alone);
  // If this fails, ejabberd changed and rpsync's ejabberd policy (docs/ejabberd.md) can go.
  EXPECT_EQ(alone, 0u) << "ejabberd now forwards the implicit unavailable by itself";
}

TEST_F(EjabberdFacts, NothingIsSentToTheComponentOnReconnect) {
  start_with_users({"alice", "bob"});
  if (IsSkipped()) return;
  auto alice = login("alice", "desk");
  auto bob = login("bob", "b");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(alice->send_presence("dnd"));
  ASSERT_TRUE(bob->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/b") > 0; }));
  run_for(io, 1500ms);  // every copy of the initial exchange has arrived

  bool stopped = false;
  conn->stop([&] { stopped = true; });
  ASSERT_TRUE(wait([&] { return stopped; }));
  handler.stanzas.clear();
  std::size_t connects = handler.connected.size();
  conn->start();
  ASSERT_TRUE(wait([&] { return handler.connected.size() > connects && conn->ready(); }, 10s))
      << logger.all();
  run_for(io, 2000ms);
  std::printf("[ejabberd] stanzas after reconnect with 2 users online: %zu\n",
              handler.stanzas.size());
  for (const auto& s : handler.stanzas) std::printf("  %s\n", xml::to_string(s).c_str());
  EXPECT_TRUE(handler.stanzas.empty());
}

// Feasibility of verifying a resource the component believes online: an IQ from the
// component to the full JID. A live session gets it (the client answers); for a gone
// session ejabberd itself answers with an error.
TEST_F(EjabberdFacts, PingToAFullJidTellsWhetherTheSessionStillExists) {
  start_with_users({"alice", "bob"});
  if (IsSkipped()) return;
  auto bob = login("bob", "b");
  auto alice = login("alice", "phone");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(bob->send_presence());
  ASSERT_TRUE(alice->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/phone") > 0; }));
  bob->close();
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/b", "unavailable") > 0; }));
  alice->abort();  // no contact online: the component is not told (see above)
  run_for(io, 1000ms);
  ASSERT_EQ(count_presence("alice@example.test/phone", "unavailable"), 0u);

  auto ping = [](const std::string& to) {
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("to", to);
    iq.add(xml::Element("ping", std::string(ns::kPing)));
    return iq;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto gone = request(ping("alice@example.test/phone"));
  double gone_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(gone.ok());
  std::printf("[ejabberd] ping to a dropped full JID: error %s/%s after %.1f ms\n",
              std::string(proto::to_string(gone.error().type)).c_str(),
              std::string(proto::to_string(gone.error().condition)).c_str(), gone_ms);
  std::printf("[ejabberd]   error text: '%s'\n", gone.error().text.c_str());
  EXPECT_EQ(gone.error().condition, proto::Condition::kServiceUnavailable);

  // Any IQ takes the same path (ejabberd_sm answers for a full JID without a session).
  xml::Element disco("iq", std::string(ns::kComponent));
  disco.set_attr("type", "get");
  disco.set_attr("to", "alice@example.test/phone");
  disco.add(xml::Element("query", std::string(ns::kDiscoInfo)));
  auto gone_disco = request(disco);
  ASSERT_FALSE(gone_disco.ok());
  EXPECT_EQ(gone_disco.error().condition, proto::Condition::kServiceUnavailable);
  EXPECT_EQ(gone_disco.error().text, gone.error().text);

  // Out of band, the admin API knows too (needs mod_http_api + api_permissions).
  auto resources = server->api("user_resources", R"({"user":"alice","host":"example.test"})");
  ASSERT_TRUE(resources);
  std::printf("[ejabberd] admin API user_resources after the drop: %s\n", resources->c_str());
  EXPECT_EQ(resources->find("phone"), std::string::npos);

  // A live session: the IQ is delivered to the client, whose answer comes back.
  auto alice2 = login("alice", "desk");
  ASSERT_TRUE(alice2);
  ASSERT_TRUE(alice2->send_presence());
  std::optional<proto::Result<xml::Element>> live;
  conn->send_iq(ping("alice@example.test/desk"), 3s,
                [&](proto::Result<xml::Element> r) { live = std::move(r); });
  run_for(io, 200ms);
  auto got = alice2->wait_for(
      [](const xml::Element& e) { return e.is("iq", ns::kClient) && e.child("ping", ns::kPing); },
      3s);
  ASSERT_TRUE(got) << "the ping did not reach the live session";
  EXPECT_EQ(got->attr("from"), "rpsync.example.test");
  xml::Element pong("iq", std::string(ns::kClient));
  pong.set_attr("type", "result");
  pong.set_attr("id", std::string(got->attr("id").value_or("")));
  pong.set_attr("to", "rpsync.example.test");
  ASSERT_TRUE(alice2->send(pong));
  ASSERT_TRUE(wait([&] { return live.has_value(); }));
  EXPECT_TRUE(live->ok());
}

// A client with XEP-0198 that loses its TCP connection stays "available" (hibernated) for
// resume_timeout: contacts are told nothing, and an IQ to it is queued, not answered. When
// the timeout ends the session closes with an implicit unavailable (same forwarding rule).
TEST_F(EjabberdFacts, HibernatedStreamManagementSessionQueuesTheIqUntilItsTimeout) {
  EjabberdOptions o;
  o.resume_timeout_s = 4;
  start_with_users({"alice"}, o);
  if (IsSkipped()) return;
  auto alice = login("alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_raw("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"));
  auto enabled = alice->wait_for([](const xml::Element& e) { return e.name() == "enabled"; }, 3s);
  ASSERT_TRUE(enabled) << "stream management not enabled\n" << server->log();
  ASSERT_TRUE(alice->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/phone") > 0; }));
  auto dropped_at = std::chrono::steady_clock::now();
  alice->abort();
  run_for(io, 500ms);

  xml::Element ping("iq", std::string(ns::kComponent));
  ping.set_attr("type", "get");
  ping.set_attr("to", "alice@example.test/phone");
  ping.add(xml::Element("ping", std::string(ns::kPing)));
  std::optional<proto::Result<xml::Element>> answer;
  std::chrono::steady_clock::time_point answered_at;
  conn->send_iq(ping, 10s, [&](proto::Result<xml::Element> r) {
    answer = std::move(r);
    answered_at = std::chrono::steady_clock::now();
  });
  run_for(io, 1500ms);
  EXPECT_FALSE(answer.has_value()) << "the hibernated session answered at once";
  ASSERT_TRUE(wait([&] { return answer.has_value(); }, 10s));
  double after = std::chrono::duration<double>(answered_at - dropped_at).count();
  std::printf(
      "[ejabberd] ping to a hibernated XEP-0198 session (resume_timeout 4 s): %s %s "
      "'%s' %.1f s after the drop\n",
      answer->ok() ? "result" : "error",
      answer->ok() ? "" : std::string(proto::to_string(answer->error().condition)).c_str(),
      answer->ok() ? "" : answer->error().text.c_str(), after);
  EXPECT_FALSE(answer->ok());
  EXPECT_GE(after, 3.0);  // not before the resume timeout
  run_for(io, 500ms);
  std::printf(
      "[ejabberd] implicit unavailable at the end of hibernation, no contact online: "
      "%zu copies\n",
      count_presence("alice@example.test/phone", "unavailable"));
  EXPECT_EQ(count_presence("alice@example.test/phone", "unavailable"), 0u);
}

// The cost of verifying by IQ (docs/ejabberd.md, option 3): N resources believed online,
// half of them dropped silently; one ping each, all in flight at once.
TEST_F(EjabberdFacts, VerifyingManyResourcesByPingFindsExactlyTheDroppedOnes) {
  constexpr int kUsers = 40;
  std::vector<std::string> names;
  for (int i = 0; i < kUsers; ++i) names.push_back("u" + std::to_string(i));
  // No rosters: nobody receives anybody's presence, so every drop is silent.
  std::string why;
  server = EjabberdServer::create({}, &why);
  if (!server) GTEST_SKIP() << why;
  for (const auto& n : names) server->add_user(n, kHost, "pw-" + n);
  ASSERT_TRUE(server->launch()) << server->log();
  conn = std::make_unique<Connection>(io, config_for(*server), handler, logger);
  conn->start();
  ASSERT_TRUE(wait([&] { return conn->ready(); }, 10s)) << logger.all();

  std::vector<std::unique_ptr<TestClient>> clients;
  for (const auto& n : names) {
    clients.push_back(login(n, "r"));
    ASSERT_TRUE(clients.back());
    ASSERT_TRUE(clients.back()->send_presence());
  }
  ASSERT_TRUE(wait([&] {
    std::size_t n = 0;
    for (const auto& s : handler.stanzas) n += s.is("presence", ns::kComponent);
    return n >= static_cast<std::size_t>(kUsers);
  }));
  for (int i = 0; i < kUsers; i += 2) clients[static_cast<std::size_t>(i)]->abort();
  run_for(io, 1000ms);
  for (int i = 0; i < kUsers; i += 2)
    ASSERT_EQ(count_presence(names[static_cast<std::size_t>(i)] + "@example.test/r", "unavailable"),
              0u);

  std::map<std::string, std::optional<bool>> alive;  // full JID -> verdict
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& n : names) {
    std::string jid = n + "@example.test/r";
    alive[jid];
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("to", jid);
    iq.add(xml::Element("ping", std::string(ns::kPing)));
    conn->send_iq(std::move(iq), 5s, [&alive, jid](proto::Result<xml::Element> r) {
      alive[jid] = r.ok();
      if (!r.ok() && r.error().condition != proto::Condition::kServiceUnavailable)
        ADD_FAILURE() << jid << ": " << proto::to_string(r.error().condition);
    });
  }
  auto all_answered = [&] {
    for (const auto& [jid, v] : alive)
      if (!v) return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 8s;
  while (!all_answered() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(2));
    for (int i = 1; i < kUsers; i += 2) {  // the live clients answer their ping
      auto& c = clients[static_cast<std::size_t>(i)];
      // next() needs a timeout of at least 2 ms to read at all (whole-millisecond rounding).
      while (auto e = c->next(std::chrono::milliseconds(3))) {
        if (!e->is("iq", ns::kClient) || !e->child("ping", ns::kPing)) continue;
        xml::Element pong("iq", std::string(ns::kClient));
        pong.set_attr("type", "result");
        pong.set_attr("id", std::string(e->attr("id").value_or("")));
        pong.set_attr("to", std::string(e->attr("from").value_or("")));
        c->send(pong);
      }
    }
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(all_answered()) << logger.all();
  std::printf(
      "[ejabberd] verified %d resources (%d dropped) by ping in %.0f ms (loopback, "
      "clients answering from the test thread)\n",
      kUsers, kUsers / 2, ms);
  for (int i = 0; i < kUsers; ++i)
    EXPECT_EQ(*alive[names[static_cast<std::size_t>(i)] + "@example.test/r"], i % 2 == 1)
        << names[static_cast<std::size_t>(i)];
}

// A presence probe from the component to a user it has no subscription with.
TEST_F(EjabberdFacts, ProbeFromTheComponentIsNotAnswered) {
  start_with_users({"alice"});
  if (IsSkipped()) return;
  auto alice = login("alice", "desk");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_presence("xa"));
  ASSERT_TRUE(wait([&] { return count_presence("alice@example.test/desk") > 0; }));
  run_for(io, 500ms);
  handler.stanzas.clear();
  xml::Element probe("presence", std::string(ns::kComponent));
  probe.set_attr("type", "probe");
  probe.set_attr("from", "rpsync.example.test");
  probe.set_attr("to", "alice@example.test");
  ASSERT_EQ(conn->send(probe), SendResult::kQueued);
  run_for(io, 1500ms);
  std::printf("[ejabberd] answers to a component probe of an online user: %zu\n",
              handler.stanzas.size());
  for (const auto& s : handler.stanzas) std::printf("  %s\n", xml::to_string(s).c_str());
  EXPECT_EQ(count_presence("alice@example.test/desk"), 0u);
}

// Two connections under one component name: ejabberd accepts both and load-balances
// stanzas to the name, the privilege advertisement included. mod_privilege keeps one
// permission entry per name, and any of the connections closing erases it.
TEST_F(EjabberdFacts, SecondConnectionWithTheSameNameIsAcceptedButSharesOnePrivilegeEntry) {
  start_with_users({"alice"});
  if (IsSkipped()) return;
  RecordingHandler second_handler;
  CapturingLogger second_logger;
  auto c = config_for(*server);
  c.privilege_timeout = 1500ms;
  auto second = std::make_unique<Connection>(io, c, second_handler, second_logger);
  second->start();
  ASSERT_TRUE(wait([&] { return second->state() == State::kConnected; }, 10s))
      << second_logger.all();
  run_for(io, 300ms);
  EXPECT_TRUE(second_handler.disconnected.empty()) << "refused: " << second_logger.all();
  EXPECT_TRUE(handler.disconnected.empty());
  bool second_got_it = second->ready();
  std::printf(
      "[ejabberd] second connection, same name: accepted; advertisement went to the %s "
      "connection\n",
      second_got_it ? "second" : "first");

  // The first connection closes: ejabberd erases the name's permissions, although the
  // second connection is still up.
  bool stopped = false;
  conn->stop([&] { stopped = true; });
  ASSERT_TRUE(wait([&] { return stopped; }));
  run_for(io, 300ms);
  std::optional<proto::Result<xml::Element>> r;
  second->send_iq(roster_get("alice@example.test"), 3s,
                  [&](proto::Result<xml::Element> x) { r = std::move(x); });
  ASSERT_TRUE(wait([&] { return r.has_value(); }));
  std::printf("[ejabberd] roster get on the remaining connection after the other closed: %s\n",
              r->ok() ? "result" : std::string(proto::to_string(r->error().condition)).c_str());
  EXPECT_FALSE(r->ok());
  if (!r->ok()) {
    EXPECT_EQ(r->error().condition, proto::Condition::kForbidden);
  }
  // Presence forwarding has stopped as well, with no notice to the remaining connection.
  auto alice = login("alice", "desk");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->send_presence());
  run_for(io, 1000ms);
  std::size_t forwarded = 0;
  for (const auto& st : second_handler.stanzas) forwarded += st.is("presence", ns::kComponent);
  std::printf("[ejabberd] presences forwarded to the remaining connection afterwards: %zu\n",
              forwarded);
  EXPECT_EQ(forwarded, 0u);
  EXPECT_TRUE(second_handler.disconnected.empty());
  second->stop();
  run_for(io, 200ms);
}

}  // namespace
}  // namespace rpsync::xmpp
