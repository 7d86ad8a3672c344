// SPDX-License-Identifier: MIT
// Keys survive a gap of the component's view that the server's witness closes, decided
// per user (spec "Continuity"), on Prosody 0.12 with mod_rpsync_gate: after a component
// restart (SIGTERM, SIGKILL; an upgrade is the same path: the same binary started again
// on the same store), a cut of the component's TCP connection and a Prosody restart, a
// user whose contacts are all on served hosts (example.test and the second VirtualHost
// other.test) syncs with a delta equal to a fresh login, while a user with a contact on
// a domain the server does not host fails with continuity-lost in the same gap. Without
// the gate module nothing proves the re-send complete: continuity-lost (control).
//
//   alice: carol@example.test, xavier@other.test   (covered)
//   bob:   carol@example.test, zed@remote.invalid  (a remote contact: never covered)
//   both enable and log out; carol and xavier change while the component is away and
//   after it is back; each syncs with the key from before; alice's model after the delta
//   is compared with a fresh login.
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/harness/tcp_proxy.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

const std::string kAlice = "alice@example.test";
const std::string kBob = "bob@example.test";
const std::string kCarol = "carol@example.test";
const std::string kXavier = "xavier@other.test";
const std::string kZed = "zed@remote.invalid";

WorldSpec continuity_world(bool gate) {
  WorldSpec spec = user_with_contacts(kAlice, {kCarol, kXavier});
  spec.users.push_back(kBob);
  mutual(spec, kBob, kCarol);
  spec.roster.push_back({kBob, kZed, Subscription::kBoth});
  spec.component.domains = {"example.test", "other.test"};
  spec.rpsync_gate = gate;
  return spec;
}

// A user's key from before the gap and the presence the client held at its moment.
struct Held {
  proto::SyncKey key;
  proto::PresenceState model;
};

template <class Server>
class ContinuityBase : public Scenario<Server> {
 public:
  using Scenario<Server>::world;
  using Scenario<Server>::comes_online;
  using Scenario<Server>::logs_in;
  using Scenario<Server>::flood_of;
  using Scenario<Server>::component;
  using Scenario<Server>::report;
  using Scenario<Server>::expect_model_is_fresh_login;
  using Scenario<Server>::expect_component_alive;

  std::unique_ptr<Party> carol, xavier;

  void online() {
    carol = comes_online(kCarol, "phone", shows(Show::kAway, "brb"));
    xavier = comes_online(kXavier, "home", shows(Show::kChat));
    ASSERT_TRUE(carol && xavier);
  }

  Held enables(const std::string& user) {
    auto p = logs_in(user, "phone");
    if (!p) return {};
    Flood f = flood_of(*p);
    EXPECT_TRUE(f.complete);
    EXPECT_TRUE(p->sends_enable(component(), "e1").ok());
    Held h{p->key("e1"), f.state};
    p->closes();
    return h;
  }

  void carol_shows(const std::string& status) {
    ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, status)));
    ASSERT_TRUE(carol->settles());
  }

  // The user's sync with the key from before: a delta that turns the held model into a
  // fresh login (kept), or continuity-lost.
  void expect_kept(const std::string& user, Held held, const std::string& name) {
    auto p = logs_in(user, "phone");
    ASSERT_TRUE(p);
    Answer a = p->sends_sync(component(), "s1", held.key);
    p->closes();
    std::string why;
    auto delta = delta_of(a, &why);
    ASSERT_TRUE(delta) << why << "\n" << world->component().log();
    EXPECT_GT(delta->items(), 0u) << "the gap's changes are in the delta";
    ASSERT_TRUE(proto::apply(held.model, *delta)) << describe(*delta);
    EXPECT_EQ(proto::digest_of(held.model), delta->state);
    expect_model_is_fresh_login(held.model, user);
    report(name, user + ": " + std::to_string(delta->items()) + " delta item(s), " +
                     std::to_string(a.bytes) + " B");
  }

  void expect_lost(const std::string& user, const Held& held, const std::string& name) {
    auto p = logs_in(user, "phone");
    ASSERT_TRUE(p);
    Answer a = p->sends_sync(component(), "s1", held.key);
    p->closes();
    EXPECT_TRUE(is_error(a, AppCondition::kContinuityLost)) << a.describe() << "\n"
                                                            << world->component().log();
    report(name, user + ": " + a.describe());
  }

  bool log_has(const std::string& text) {
    return world->component().log().find(text) != std::string::npos;
  }

  // Restart between the users' sessions; carol changes during and after the downtime,
  // xavier leaves during it.
  void restart(bool crash) {
    RPSYNC_SCENARIO_START(continuity_world(/*gate=*/true));
    online();
    Held alice = enables(kAlice), bob = enables(kBob);
    auto& c = world->component();
    if (crash) {
      c.kill9();
    } else {
      ASSERT_EQ(c.terminate(), 0) << c.log();
    }
    carol_shows("during");
    xavier.reset();
    std::string why;
    ASSERT_TRUE(world->start_component_again(&why)) << why;
    carol_shows("after");
    const std::string name = crash ? "component SIGKILL" : "component SIGTERM";
    expect_kept(kAlice, alice, name);
    expect_lost(kBob, bob, name);
    EXPECT_TRUE(log_has("continuity.decided")) << c.log();
    expect_component_alive();
  }
};

// The restart on both servers: Prosody with mod_rpsync_gate, ejabberd with its module
// (which re-sends and reports session ends, then sends <sessions-sent/> per host).
template <class Server>
class ContinuityRestart : public ContinuityBase<Server> {};
TYPED_TEST_SUITE(ContinuityRestart, Servers, ServerNames);

TYPED_TEST(ContinuityRestart, CleanRestartKeepsCoveredKeys) {
  this->restart(/*crash=*/false);
}

TYPED_TEST(ContinuityRestart, CrashKeepsCoveredKeys) {
  this->restart(/*crash=*/true);
}

using Continuity = ContinuityBase<ProsodyServer>;

// Contacts change between the key and the stop too: carol's status changes and xavier
// goes offline before the component stops (SIGTERM, SIGKILL), carol changes again while it
// is away and after it is back. The store keeps the change history, so the restored key is
// rebuilt at its own moment and alice's delta holds every change since it; bob's fails
// (a remote contact). `restart()` above is the same without changes before the stop.
void restart_after_changes(Continuity& t, bool crash) {
  auto& world = t.world;
  t.online();
  Held alice = t.enables(kAlice), bob = t.enables(kBob);
  t.carol_shows("before the stop");
  t.xavier.reset();
  // Presence ingest is committed within the store's batch time (50 ms); after a SIGKILL
  // a change that was not would come back as a change the re-learn records.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto& c = world->component();
  if (crash) {
    c.kill9();
  } else {
    ASSERT_EQ(c.terminate(), 0) << c.log();
  }
  t.carol_shows("during");
  std::string why;
  ASSERT_TRUE(world->start_component_again(&why)) << why;
  t.carol_shows("after");
  const std::string name = std::string("changes before a ") + (crash ? "SIGKILL" : "SIGTERM");
  t.expect_kept(kAlice, alice, name);
  t.expect_lost(kBob, bob, name);
  t.expect_component_alive();
}

TEST_F(Continuity, ChangesBeforeATermStopAreInTheDelta) {
  RPSYNC_SCENARIO_START(continuity_world(/*gate=*/true));
  restart_after_changes(*this, /*crash=*/false);
}

TEST_F(Continuity, ChangesBeforeAKillStopAreInTheDelta) {
  RPSYNC_SCENARIO_START(continuity_world(/*gate=*/true));
  restart_after_changes(*this, /*crash=*/true);
}

// The component's connection is cut (a proxy between it and Prosody) while contacts
// change: no restore, the history is in memory, so changes before the cut count too.
TEST_F(Continuity, ConnectionCutKeepsCoveredKeys) {
  RPSYNC_SCENARIO_START(continuity_world(/*gate=*/true));
  auto& first = world->component();
  ASSERT_EQ(first.terminate(), 0);
  std::string why;
  auto proxy = TcpProxy::start(world->server().component_port(), &why);
  ASSERT_TRUE(proxy) << why;
  ComponentSpec spec = continuity_world(true).component;
  spec.extra_args = {"--server-software", "prosody"};
  const auto dir = std::filesystem::path(first.store_path()).parent_path() / "proxied";
  std::filesystem::create_directories(dir);
  ComponentProcess proxied(dir.string(), proxy->port(), spec);
  ASSERT_TRUE(proxied.start(&why)) << why;
  ASSERT_TRUE(component_ready(world->server().c2s_port(), proxied, component(),
                              std::chrono::seconds(15), &why))
      << why;
  online();
  Held alice = enables(kAlice), bob = enables(kBob);
  carol_shows("before the cut");
  proxy->cut();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  carol_shows("during the cut");
  xavier.reset();
  proxy->resume();
  ASSERT_TRUE(component_ready(world->server().c2s_port(), proxied, component(),
                              std::chrono::seconds(15), &why))
      << why;
  EXPECT_GE(proxy->connections(), 2u) << "the component really reconnected";
  carol_shows("after the cut");
  expect_kept(kAlice, alice, "component TCP cut");
  expect_lost(kBob, bob, "component TCP cut");
  EXPECT_TRUE(proxied.log().find("continuity.decided") != std::string::npos) << proxied.log();
}

// Prosody restarts: every session ends; carol comes back with another status.
TEST_F(Continuity, ServerRestartKeepsCoveredKeys) {
  RPSYNC_SCENARIO_START(continuity_world(/*gate=*/true));
  online();
  Held alice = enables(kAlice), bob = enables(kBob);
  carol.reset();
  xavier.reset();
  ASSERT_TRUE(world->server().restart()) << world->server().log();
  std::string why;
  ASSERT_TRUE(world->component_ready(std::chrono::seconds(40), &why)) << why;
  carol = comes_online(kCarol, "phone", shows(Show::kNone, "back"));
  ASSERT_TRUE(carol);
  expect_kept(kAlice, alice, "Prosody restart");
  expect_lost(kBob, bob, "Prosody restart");
}

// Control: without mod_rpsync_gate nothing proves the re-send complete.
TEST_F(Continuity, WithoutGateEveryKeyFails) {
  RPSYNC_SCENARIO_START(continuity_world(/*gate=*/false));
  online();
  Held alice = enables(kAlice);
  ASSERT_EQ(world->component().terminate(), 0);
  carol_shows("during");
  std::string why;
  ASSERT_TRUE(world->start_component_again(&why)) << why;
  expect_lost(kAlice, alice, "no gate");
}

}  // namespace
}  // namespace rpsync::test::scenario
