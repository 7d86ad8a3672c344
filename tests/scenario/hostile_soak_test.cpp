// SPDX-License-Identifier: MIT
// Scenario 9e: a seeded, bounded soak. From several ordinary accounts, in random order:
// hostile stanzas (the classes of hostile_stanzas.h plus an 80 KB presence status) in IQs
// to the component, messages to it, broadcast presence and directed presence to it;
// contacts changing show/status, resources coming online, logging out and being reset;
// and reconnects of three synced users, each syncing with its stored key and comparing the
// resulting model with a fresh full login's view at that moment.
//
//   exactly: one stanza.skipped in the component's log per hostile stanza sent
//   never: a component reconnect to the server, a sync that succeeds with a model other
//   than the fresh login's ("wrong delta"), a sync failure that nothing explains
//   explained: continuity-lost for a user who sees eve after eve's presence was
//   unreadable (Service::skipped_presence makes her resource unknown), and too-large
//   (the component's own estimate says a normal login is cheaper)
//   printed: the seed, syncs with / without changes, failures by condition, hostile
//   stanzas by class and route
//
// Runs on Prosody 0.12 and ejabberd 23.01 (with mod_rpsync_gate, which withholds presence
// directed to the component: those are not counted as skipped there).
// RPSYNC_SOAK_SEED replays a sequence of steps; RPSYNC_SOAK_SECONDS (default 60, 45 on
// ejabberd) bounds the wall time, 50 steps per second bound the count. Quiescence before
// each sync: every contact step ends with the server having processed it (a ping round
// trip, or a watcher seeing the unavailable of a closed or reset session); the server
// routes the presence to the component before that, and the sync follows it.
#include <cstdlib>
#include <map>
#include <random>
#include <type_traits>

#include "tests/scenario/hostile_stanzas.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;
using Clock = std::chrono::steady_clock;

unsigned long env_or(const char* name, unsigned long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoul(v, nullptr, 10) : fallback;
}

proto::PresenceFields random_fields(std::mt19937& rng) {
  static const Show kShows[] = {Show::kNone, Show::kAway, Show::kChat, Show::kDnd, Show::kXa};
  static const char* kStatuses[] = {"", "working", "in the train \xF0\x9F\x9A\x86", "back soon",
                                    "caf\xC3\xA9"};
  return shows(kShows[rng() % 5], kStatuses[rng() % 5],
               static_cast<std::int8_t>(static_cast<int>(rng() % 11) - 5));
}

// One resource of a contact that comes and goes.
struct Slot {
  std::string bare, resource;
  std::unique_ptr<Party> p;
};

// A user who reconnects with its stored key.
struct Synced {
  std::string bare;
  bool sees_eve = false;
  std::unique_ptr<Party> session;  // the session that holds `key`, or none
  std::optional<proto::SyncKey> key;
  proto::PresenceState model;  // what the client holds for `key`
  bool tainted = false;        // eve was unknown in its view since `key` began
};

struct Tally {
  std::map<std::string, int> hostile;   // "class via route" -> stanzas sent
  std::map<std::string, int> failures;  // condition -> sync failures
  int steps = 0, syncs = 0, with_changes = 0, empty = 0, wrong = 0, unexplained = 0;
  int fresh_starts = 0, churn = 0, eve_unknown_times = 0;
};

const char* const kRoutes[] = {"IQ to component", "message to component", "broadcast presence",
                               "directed presence to component"};

template <class Server>
class HostileSoak : public Scenario<Server> {
 protected:
  std::mt19937 rng;
  Tally tally;
  std::vector<Slot> slots;
  std::vector<Synced> users;
  std::vector<std::unique_ptr<Party>> attackers;
  std::unique_ptr<Party> eve, walt;  // walt watches every churning contact
  bool eve_unknown = false;
  std::vector<Hostile> payloads = hostile_payloads();
  int ids = 0;

  void SetUp() override {
    WorldSpec spec;
    const std::vector<std::string> contacts = {"carol@example.test", "dave@example.test",
                                               "erin@example.test", "frank@example.test"};
    spec.users = {"alice@example.test", "bob@example.test",  "gus@example.test",
                  "eve@example.test",   "walt@example.test", "mallory@example.test",
                  "trudy@example.test", "oscar@other.test"};
    spec.users.insert(spec.users.end(), contacts.begin(), contacts.end());
    for (const char* c : {"carol", "dave", "erin"})
      mutual(spec, "alice@example.test", std::string(c) + "@example.test");
    for (const char* c : {"dave", "erin", "frank"})
      mutual(spec, "bob@example.test", std::string(c) + "@example.test");
    for (const char* c : {"carol", "frank"})
      mutual(spec, "gus@example.test", std::string(c) + "@example.test");
    mutual(spec, "alice@example.test", "eve@example.test");
    mutual(spec, "bob@example.test", "eve@example.test");
    for (const auto& c : contacts) mutual(spec, "walt@example.test", c);
    spec.component.extra_args = {"--max-incoming-stanza-bytes", "65536", "--requests-per-minute",
                                 "100000"};
    RPSYNC_SCENARIO_START(spec);
    eve = this->comes_online("eve@example.test", "pc", shows(Show::kChat, "hi"));
    walt = this->comes_online("walt@example.test", "watch");
    ASSERT_TRUE(eve && walt);
    for (const char* bare : {"mallory@example.test", "trudy@example.test", "oscar@other.test"}) {
      attackers.push_back(this->logs_in(bare, "x"));
      ASSERT_TRUE(attackers.back() && attackers.back()->sends_presence({}));
    }
    for (const auto& c : contacts)
      for (const char* r : {"a", "b"}) slots.push_back({c, r, nullptr});
    for (std::size_t i = 0; i < slots.size(); i += 2)
      slots[i].p = this->comes_online(slots[i].bare, slots[i].resource, random_fields(rng));
    for (const char* bare : {"alice@example.test", "bob@example.test", "gus@example.test"}) {
      Synced u;
      u.bare = bare;
      u.sees_eve = u.bare != "gus@example.test";
      users.push_back(std::move(u));
    }
    for (auto& u : users) {
      u.session = this->logs_in(u.bare, "phone");
      ASSERT_TRUE(u.session);
      fresh_start(u);
    }
  }

  static void drain(Party& p) {
    while (p.receives([](const xml::Element&) { return true; }, Millis(0))) {
    }
  }

  // u's current session shows itself, takes the flood as its model and enables; the
  // session ends there (the key outlives it).
  void fresh_start(Synced& u) {
    ++tally.fresh_starts;
    Flood f = this->flood_of(*u.session);
    ASSERT_TRUE(f.complete);
    const std::string id = "e" + std::to_string(++ids);
    Answer e = u.session->sends_enable(this->component(), id);
    if (e.ok()) {
      u.key = u.session->key(id);
      u.model = f.state;
      u.tainted = u.sees_eve && eve_unknown;
    } else {
      u.key.reset();  // the next reconnect starts over
      ++tally.failures["enable " + e.describe()];
    }
    u.session->closes();
    u.session.reset();
  }

  void reconnect(Synced& u) {
    if (u.session) u.session->closes();
    u.session = this->logs_in(u.bare, "phone");
    ASSERT_TRUE(u.session);
    if (!u.key) return fresh_start(u);
    const std::string id = "s" + std::to_string(++ids);
    Answer a = u.session->sends_sync(this->component(), id, *u.key);
    ++tally.syncs;
    if (!a.ok()) return sync_failed(u, a);
    std::string why;
    auto delta = delta_of(a, &why);
    ASSERT_TRUE(delta) << why;
    proto::PresenceState model = u.model;
    const bool applies = proto::apply(model, *delta);
    Flood fresh = this->fresh_full_login(u.bare);
    ASSERT_TRUE(fresh.complete);
    if (!applies || model != fresh.state || proto::digest_of(model) != delta->state) {
      ++tally.wrong;
      ADD_FAILURE() << u.bare << ": wrong delta " << describe(*delta) << "\nfrom "
                    << describe(u.model) << "\nfresh login " << describe(fresh.state);
      u.key.reset();
      return;
    }
    ++(delta->empty() ? tally.empty : tally.with_changes);
    u.model = std::move(model);
    u.key = u.session->key(id);
    u.tainted = u.sees_eve && eve_unknown;
  }

  // Explained: continuity-lost after eve was unknown in u's view; too-large, whose line is
  // the component's own estimate (a delta not smaller than a normal login).
  void sync_failed(Synced& u, const Answer& a) {
    const bool explained = (u.tainted && a.app() == AppCondition::kContinuityLost) ||
                           a.app() == AppCondition::kTooLarge;
    std::string cond =
        a.app() != AppCondition::kNone ? std::string(proto::to_string(a.app())) : a.describe();
    if (!explained) {
      ++tally.unexplained;
      cond += " (unexplained)";
      ADD_FAILURE() << u.bare << ": sync failed with nothing to explain it: " << a.describe();
    }
    ++tally.failures[cond];
    fresh_start(u);
  }

  // A non-contact sends one hostile stanza by one route.
  void hostile() {
    Party& from = *attackers[rng() % attackers.size()];
    const std::size_t cls = rng() % (payloads.size() + 1);
    int route = static_cast<int>(rng() % 4);
    const std::string id = "h" + std::to_string(++ids);
    std::string stanza, name;
    if (cls == payloads.size()) {  // oversized presence
      route = 2 + static_cast<int>(rng() % 2);
      stanza = route_stanza(route, this->component(), id,
                            "<show>dnd</show><status>" + std::string(80'000, 'a') + "</status>");
      name = "80 KB presence status";
    } else {
      stanza = route_stanza(route, this->component(), id, payloads[cls].payload);
      name = payloads[cls].name;
    }
    ASSERT_TRUE(sends_parsed_now(from, stanza));
    if (route == 0) {
      Answer r = from.answer_to(id);
      EXPECT_TRUE(is_error(r, AppCondition::kStanzaTooBig)) << name;
    }
    ASSERT_TRUE(from.settles());
    drain(from);
    ++tally.hostile[name + " via " + kRoutes[route]];
  }

  // eve (a contact of alice and bob) sends an unreadable presence, or a readable one.
  void eve_step() {
    if (rng() % 4 == 0) {
      const int route = 2 + static_cast<int>(rng() % 2);
      const std::string body = "<status>" + std::string(70'000, '\'') + "</status>";
      ASSERT_TRUE(sends_parsed_now(*eve, route_stanza(route, this->component(), "", body)));
      ++tally.hostile[std::string("70 KB of ' status from a contact via ") + kRoutes[route]];
      ++tally.eve_unknown_times;
      eve_unknown = true;
      for (auto& u : users) u.tainted = u.tainted || u.sees_eve;
    } else {
      ASSERT_TRUE(eve->sends_presence(random_fields(rng)));
      eve_unknown = false;
    }
    ASSERT_TRUE(eve->settles());
    drain(*eve);
  }

  // One contact resource comes online, changes, logs out or has its connection reset.
  void churn() {
    ++tally.churn;
    Slot& s = slots[rng() % slots.size()];
    if (!s.p) {
      s.p = this->comes_online(s.bare, s.resource, random_fields(rng));
      ASSERT_TRUE(s.p);
    } else if (const auto how = rng() % 4; how < 2) {
      ASSERT_TRUE(s.p->sends_presence(random_fields(rng)) && s.p->settles());
      drain(*s.p);
    } else {
      const std::string jid = s.bare + "/" + s.resource;
      how == 2 ? s.p->closes() : s.p->aborts();
      s.p.reset();
      ASSERT_TRUE(walt->receives([&](const xml::Element& e) {
        return e.name() == "presence" && e.attr("from") == jid && e.attr("type") == "unavailable";
      })) << "the server announced "
          << jid << " unavailable";
    }
    drain(*walt);
  }

  void step() {
    const auto r = rng() % 100;
    if (r < 30) return hostile();
    if (r < 65) return churn();
    if (r < 72) return eve_step();
    reconnect(users[rng() % users.size()]);
  }

  std::string figures() const {
    std::string s = std::to_string(tally.steps) + " steps; syncs " + std::to_string(tally.syncs) +
                    ": " + std::to_string(tally.with_changes) + " with changes, " +
                    std::to_string(tally.empty) + " empty, " + std::to_string(tally.wrong) +
                    " wrong; fresh starts " + std::to_string(tally.fresh_starts) +
                    "; churn steps " + std::to_string(tally.churn) + "; eve unreadable " +
                    std::to_string(tally.eve_unknown_times) + " times; failures:";
    for (const auto& [k, n] : tally.failures) s += " " + k + "=" + std::to_string(n);
    s += "; hostile sent:";
    for (const auto& [k, n] : tally.hostile) s += "\n    " + k + ": " + std::to_string(n);
    return s;
  }
};
TYPED_TEST_SUITE(HostileSoak, Servers, ServerNames);

// Prosody (no gate in scenario worlds) forwards one copy of each presence to the component,
// presence directed to it included. ejabberd with mod_rpsync_gate (the scenario default)
// forwards a local sender's broadcast once, from his own session, and withholds presence
// directed to the component (docs/ejabberd.md).
template <class Server>
constexpr bool kWithholdsDirectedPresence = !std::is_same_v<Server, ProsodyServer>;
// ejabberd's syncs wait up to 2 s for the verification pings the harness clients leave
// unanswered: a shorter soak keeps the ctest within its timeout.
template <class Server>
constexpr unsigned long kDefaultSeconds = std::is_same_v<Server, ProsodyServer> ? 60 : 45;

TYPED_TEST(HostileSoak, RandomMixKeepsTheStreamAndEverySyncMatchesAFreshLogin) {
  const unsigned long seed = env_or("RPSYNC_SOAK_SEED", std::random_device{}());
  const unsigned long seconds = env_or("RPSYNC_SOAK_SECONDS", kDefaultSeconds<TypeParam>);
  std::printf("[soak] seed %lu (RPSYNC_SOAK_SEED=%lu replays the steps), %lu s\n", seed, seed,
              seconds);
  std::fflush(stdout);
  this->rng.seed(static_cast<std::mt19937::result_type>(seed));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  const unsigned long max_steps = 50 * seconds;
  while (Clock::now() < deadline && static_cast<unsigned long>(this->tally.steps) < max_steps &&
         !this->HasFailure()) {
    ++this->tally.steps;
    this->step();
  }
  for (auto& u : this->users)  // a last reconnect each, after everything
    if (!this->HasFailure()) this->reconnect(u);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  const std::string log = this->world->component().log();
  this->expect_component_alive();
  EXPECT_EQ(count_of(log, "handshake.accepted"), 1u) << "the component never reconnected";
  int relayed = 0;
  for (const auto& [route, n] : this->tally.hostile)
    if (!kWithholdsDirectedPresence<TypeParam> ||
        !route.ends_with("via directed presence to component"))
      relayed += n;
  EXPECT_EQ(count_of(log, "stanza.skipped"), static_cast<std::size_t>(relayed))
      << "every hostile stanza the server relays reached the component once and was skipped, "
         "nothing else was";
  EXPECT_EQ(this->tally.wrong, 0);
  EXPECT_EQ(this->tally.unexplained, 0);
  EXPECT_GT(this->tally.syncs, 0);
  this->report("9e hostile soak",
               "seed " + std::to_string(seed) + ", " + std::to_string(took) + " ms, reconnects " +
                   std::to_string(count_of(log, "handshake.accepted") - 1) + ", stanza.skipped " +
                   std::to_string(count_of(log, "stanza.skipped")) + "; " + this->figures());
}

}  // namespace
}  // namespace rpsync::test::scenario
