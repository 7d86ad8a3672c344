// SPDX-License-Identifier: MIT
// The ejabberd harness itself: users and rosters before and after launch, data across
// restart, and that stop()/kill() leave no process behind. Skipped when not installed.
#include "tests/harness/ejabberd/ejabberd_server.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "protocol/ns.h"
#include "tests/harness/test_client.h"

namespace rpsync::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// True while any process of the server's process group exists (beam.smp, erl_child_setup).
bool group_alive(pid_t pgid) {
  return ::kill(-pgid, 0) == 0;
}

TEST(EjabberdServer, UsersAndRostersBeforeAndAfterLaunchSurviveRestart) {
  std::string why;
  auto server = EjabberdServer::create({}, &why);
  if (!server) GTEST_SKIP() << why;
  ASSERT_TRUE(server->add_user("alice", "example.test", "pw-a"));
  ASSERT_TRUE(server->add_roster_item("alice@example.test", "bob@example.test", Subscription::kTo));
  ASSERT_TRUE(server->launch()) << server->log();
  std::printf("[ejabberd] launch with 1 user + 1 roster item: %.2f s\n",
              server->last_launch_seconds());
  ASSERT_TRUE(server->add_user("bob", "example.test", "pw-b"));  // while running
  ASSERT_TRUE(
      server->add_roster_item("bob@example.test", "alice@example.test", Subscription::kFrom));
  EXPECT_FALSE(server->add_user("bob", "example.test", "again"));  // already registered
  EXPECT_TRUE(server->log_shows("already registered"));

  auto stop_started = Clock::now();
  server->stop();
  std::printf("[ejabberd] graceful stop: %.2f s\n",
              std::chrono::duration<double>(Clock::now() - stop_started).count());
  ASSERT_FALSE(server->running());
  ASSERT_TRUE(server->launch()) << server->log();
  std::printf("[ejabberd] relaunch on the same spool: %.2f s\n", server->last_launch_seconds());

  for (auto [user, pw] : {std::pair{"alice", "pw-a"}, std::pair{"bob", "pw-b"}}) {
    auto c = TestClient::login(server->c2s_port(), user, "example.test", pw, "r", &why);
    EXPECT_TRUE(c) << user << ": " << why;
  }
  auto wrong = TestClient::login(server->c2s_port(), "alice", "example.test", "nope", "r", &why);
  EXPECT_FALSE(wrong);
  auto roster = server->api("get_roster", R"({"user":"bob","host":"example.test"})");
  ASSERT_TRUE(roster);
  EXPECT_NE(roster->find(R"("jid":"alice@example.test")"), std::string::npos) << *roster;
  EXPECT_NE(roster->find(R"("subscription":"from")"), std::string::npos) << *roster;
}

TEST(EjabberdServer, StopAndKillLeaveNoProcess) {
  std::string why;
  auto server = EjabberdServer::start({}, &why);
  if (!server && !EjabberdServer::find_executable()) GTEST_SKIP() << why;
  ASSERT_TRUE(server) << why;
  auto c = TestClient::login(server->c2s_port(), "nobody", "example.test", "x", "r", &why);
  EXPECT_FALSE(c);  // the server answers (not-authorized), so it is really up
  std::printf("[ejabberd] login refused: %s\n", why.c_str());
  pid_t group = server->pid();
  ASSERT_GT(group, 0);
  EXPECT_TRUE(group_alive(group));
  server->kill();
  EXPECT_FALSE(server->running());
  EXPECT_FALSE(group_alive(group)) << "a process of the killed VM's group survived";

  ASSERT_TRUE(server->launch()) << server->log();
  group = server->pid();
  server->stop();
  EXPECT_FALSE(server->running());
  // erl_child_setup leaves when the VM is gone; give it a moment.
  auto deadline = Clock::now() + 2s;
  while (group_alive(group) && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(group_alive(group)) << "a process of the stopped VM's group survived";
}

// The options that change ejabberd.yml: roster versioning and the rpsync module, each
// seen from a client (a roster get quoting ver='' is answered with a version only when
// versioning is on; the module's feature appears in the host's disco#info only when loaded).
struct Seen {
  bool roster_version = false;
  bool gate_feature = false;
};

Seen seen_by_client(const EjabberdOptions& options, std::string* why) {
  Seen seen;
  auto server = EjabberdServer::create(options, why);
  if (!server) return seen;
  server->add_user("alice", "example.test", "pw");
  if (!server->launch()) {
    *why = server->log();
    return seen;
  }
  auto c = TestClient::login(server->c2s_port(), "alice", "example.test", "pw", "r", why);
  if (!c) return seen;
  auto ask = [&](const std::string& id, xml::Element query, const std::string& to) {
    xml::Element iq("iq", std::string(ns::kClient));
    iq.set_attr("type", "get");
    iq.set_attr("id", id);
    if (!to.empty()) iq.set_attr("to", to);
    iq.add(std::move(query));
    c->send(iq);
    return c->wait_for([&](const xml::Element& s) { return s.attr("id") == id; }, 5s);
  };
  xml::Element roster("query", "jabber:iq:roster");
  roster.set_attr("ver", "");
  auto r = ask("roster-1", std::move(roster), "");
  const xml::Element* q = r ? r->child("query", "jabber:iq:roster") : nullptr;
  seen.roster_version = q && q->attr("ver").has_value();
  auto d = ask("disco-1", xml::Element("query", "http://jabber.org/protocol/disco#info"),
               "example.test");
  const xml::Element* info =
      d ? d->child("query", "http://jabber.org/protocol/disco#info") : nullptr;
  for (const auto& f : info ? info->children() : std::vector<xml::Element>{})
    if (f.attr("var") == "urn:xmpp:rpsync:0#synced") seen.gate_feature = true;
  return seen;
}

TEST(EjabberdServer, RosterVersioningAndGateModuleAreOffByDefault) {
  if (!EjabberdServer::find_executable()) GTEST_SKIP() << "ejabberd is not installed";
  std::string why;
  Seen plain = seen_by_client({}, &why);
  EXPECT_FALSE(plain.roster_version) << why;
  EXPECT_FALSE(plain.gate_feature);
  if (EjabberdServer::built_gate_dir().empty()) GTEST_SKIP() << "mod_rpsync_gate.beam not built";
  EjabberdOptions on;
  on.roster_versioning = true;
  on.gate_beam_dir = EjabberdServer::built_gate_dir();
  Seen with = seen_by_client(on, &why);
  EXPECT_TRUE(with.roster_version) << why;
  EXPECT_TRUE(with.gate_feature) << why;
}

TEST(EjabberdServer, ComponentAndC2sPortsDiffer) {
  std::string why;
  auto server = EjabberdServer::create({}, &why);
  if (!server) GTEST_SKIP() << why;
  EXPECT_NE(server->c2s_port(), server->component_port());
  EXPECT_NE(server->api_port(), server->component_port());
  EXPECT_NE(server->api_port(), server->c2s_port());
  EXPECT_FALSE(server->running());
}

}  // namespace
}  // namespace rpsync::test
