// SPDX-License-Identifier: MIT
// A randomized continuity trial on Prosody 0.12 with mod_rpsync_gate: contacts on two
// served VirtualHosts (and one on a third, unserved one) come online, change, log out and
// drop; the component is stopped (SIGTERM, SIGKILL) and started again on the same store,
// its TCP connection to Prosody is cut through a proxy (a blip), and rarely Prosody itself
// restarts; a user's sync result is lost (the client's TCP is reset right after the
// answer) and retried later with the same key; a user's session sometimes stays open
// through what follows. A quarter of the restarts and blips are not waited out: the next
// sync may meet the component before it is ready (not-ready, retried like a client).
// Between these the users reconnect with their keys, and every delta is compared with a
// fresh login of that user (the ejabberd trial's method).
//
//   alice@example.test: c1, c2 (example.test), x1 (other.test)    covered
//   bob@example.test:   c1 (example.test), x1, x2 (other.test)    covered
//   carol@example.test: c2, x2 and zed@remote.invalid             a remote contact
//   dave@example.test:  c1 and t1@third.test                      a contact on a VirtualHost
//                                                                 the component does not serve
//
// Counted: deltas right, deltas the client would refuse (its digest check fails), sync
// failures by condition, rounds whose fresh logins before and after the sync differ (a
// session end Prosody had not processed yet: no verdict), and wrong deltas (digest agrees,
// state differs from a fresh login). Asserted: no wrong delta; covered users got deltas
// across gaps (a per-user decision that failed everyone would fail this); carol and dave
// (the "remote" users: a contact whose presence no witnessed re-send covers) never got a
// delta across a gap and got continuity-lost after one. The trial ends with one more gap
// and a reconnect of every user, so each seed exercises the decision at least once.
//
// Seeded (RPSYNC_TRIAL_SEED, default 18) and bounded: at most kMaxRounds reconnects and
// RPSYNC_TRIAL_SECONDS (default 60) seconds per run, plus the closing gap.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "tests/harness/tcp_proxy.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;
using proto::AppCondition;

constexpr int kMaxRounds = 60;
constexpr int kNotReadyRetries = 4;  // a 'wait' error changes nothing: the client retries
constexpr auto kReadyTimeout = 40s;  // a gap's decision waits for <sessions-sent/>

unsigned env_or(const char* name, unsigned fallback) {
  const char* v = std::getenv(name);
  return v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : fallback;
}

// A user who reconnects: the key and the presence state the client holds at it.
struct User {
  std::string bare;
  bool remote = false;  // a contact on a host the component does not serve
  std::optional<proto::SyncKey> key;
  proto::PresenceState model;
  bool gap = false;               // a gap of the component's view since the key
  bool retry = false;             // the last sync's result was lost: the next sync retries its key
  bool lost_error = false;        // ... and it was an error that retired the key
  int gap_lost = 0;               // continuity-lost answers after a gap
  std::unique_ptr<Party> online;  // the last round's session, left open until the next one
};

User user(std::string bare, bool remote) {
  User u;
  u.bare = std::move(bare);
  u.remote = remote;
  return u;
}

struct Slot {
  std::string bare, resource;
  std::unique_ptr<Party> party;
};

struct Tally {
  int rounds = 0, deltas = 0, refused = 0, wrong = 0, unsettled = 0, unkeyed = 0;
  int gap_deltas = 0;         // covered users: deltas right across a gap
  int remote_gap_deltas = 0;  // remote users: deltas across a gap (must be 0)
  int remote_gap_lost = 0;    // remote users: continuity-lost after a gap
  int lost = 0, retries = 0;  // lost sync results; later syncs with the same key
  int terms = 0, kills = 0, blips = 0, server_restarts = 0, contact_events = 0, relogins = 0;
  int online_gaps = 0;  // gaps a user lived through with its session open
  int impatient = 0;    // gaps not waited out: the next sync may meet the component early
  std::map<std::string, int> failures;         // by condition, covered users
  std::map<std::string, int> remote_failures;  // by condition, users with a remote contact
  std::string first_wrong;

  void failure(const User& u, const std::string& condition) {
    ++(u.remote ? remote_failures : failures)[condition];
  }
  static std::string of(const std::map<std::string, int>& m) {
    std::string f;
    for (const auto& [c, n] : m) f += (f.empty() ? "" : ",") + c + ":" + std::to_string(n);
    return "{" + (f.empty() ? std::string("-") : f) + "}";
  }
  std::string line() const {
    auto n = [](int v) { return std::to_string(v); };
    return "rounds " + n(rounds) + ", deltas " + n(deltas) + " (across a gap " + n(gap_deltas) +
           "), refused by digest " + n(refused) + ", no key after enable " + n(unkeyed) +
           ", unsettled " + n(unsettled) + ", failures " + of(failures) + " remote users " +
           of(remote_failures) + ", remote users after a gap: continuity-lost " +
           n(remote_gap_lost) + ", deltas " + n(remote_gap_deltas) + ", wrong " + n(wrong) +
           " | events: contact " + n(contact_events) + " (same-resource re-logins " + n(relogins) +
           "), restarts SIGTERM " + n(terms) + ", SIGKILL " + n(kills) + ", blips " + n(blips) +
           ", Prosody restarts " + n(server_restarts) + ", not waited out " + n(impatient) +
           ", users online in a gap " + n(online_gaps) + ", lost results " + n(lost) +
           ", retries with the same key " + n(retries);
  }
};

WorldSpec trial_world() {
  const std::string alice = "alice@example.test", bob = "bob@example.test";
  const std::string carol = "carol@example.test", dave = "dave@example.test";
  WorldSpec spec =
      user_with_contacts(alice, {"c1@example.test", "c2@example.test", "x1@other.test"});
  spec.hosts = {"example.test", "other.test", "third.test"};
  spec.users.insert(spec.users.end(), {bob, carol, dave, "x2@other.test", "t1@third.test"});
  for (const char* c : {"c1@example.test", "x1@other.test", "x2@other.test"}) mutual(spec, bob, c);
  for (const char* c : {"c2@example.test", "x2@other.test"}) mutual(spec, carol, c);
  spec.roster.push_back({carol, "zed@remote.invalid", Subscription::kBoth});
  for (const char* c : {"c1@example.test", "t1@third.test"}) mutual(spec, dave, c);
  spec.component.domains = {"example.test", "other.test"};
  spec.rpsync_gate = true;
  return spec;
}

class ProsodyTrial : public Scenario<ProsodyServer> {
 protected:
  void run_trial();

 private:
  bool start_proxied(std::string* why);
  bool ready(std::string* why);
  void contact_event(Slot& s);
  void gap_event(unsigned r, bool patient);
  void restart_component(bool crash, bool patient);
  void blip(bool patient);
  void server_restart();
  void user_round(User& u, bool lose_result);
  bool sync_round(User& u, Party& p, bool lose_result);
  Answer syncs(const User& u, Party& p, std::string* id);
  void failed(User& u, const Answer& a, bool after_lost_error);
  bool judge(const User& u, const proto::Delta& d, const Flood& before,
             proto::PresenceState* model);
  void enable_round(User& u, Party& p);
  void closing_gap();
  void expectations();

  unsigned roll(unsigned n) { return static_cast<unsigned>(rng_() % n); }
  template <class T>
  T& pick(std::vector<T>& v) {
    return v[roll(static_cast<unsigned>(v.size()))];
  }
  proto::PresenceFields random_fields() {
    static const proto::Show shows[] = {proto::Show::kNone, proto::Show::kAway, proto::Show::kDnd,
                                        proto::Show::kXa, proto::Show::kChat};
    proto::PresenceFields f;
    f.show = shows[roll(5)];
    f.status = "s" + std::to_string(roll(4));
    return f;
  }

  std::mt19937 rng_;
  Tally tally_;
  std::vector<User> users_;
  std::vector<Slot> slots_;
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<ComponentProcess> component_;  // connected through proxy_
  int iq_ = 0;
};

// The world's component is replaced by one that reaches Prosody through a proxy the trial
// can cut (the same setup as the directed connection-cut scenario).
bool ProsodyTrial::start_proxied(std::string* why) {
  auto& first = world->component();
  if (first.terminate() != 0) {
    *why = "the world's component did not stop cleanly:\n" + first.log();
    return false;
  }
  proxy_ = TcpProxy::start(world->server().component_port(), why);
  if (!proxy_) return false;
  ComponentSpec spec = trial_world().component;
  spec.extra_args = {"--server-software", "prosody"};
  const auto dir = std::filesystem::path(first.store_path()).parent_path() / "proxied";
  std::filesystem::create_directories(dir);
  component_ = std::make_unique<ComponentProcess>(dir.string(), proxy_->port(), spec);
  return component_->start(why) && ready(why);
}

bool ProsodyTrial::ready(std::string* why) {
  return component_ready(world->server().c2s_port(), *component_, component(), kReadyTimeout, why);
}

void ProsodyTrial::contact_event(Slot& s) {
  ++tally_.contact_events;
  const unsigned r = roll(100);
  if (!s.party) {
    s.party = logs_in(s.bare, s.resource);
    if (s.party && r < 85) s.party->sends_presence(random_fields());
    if (s.party) s.party->settles();
    return;
  }
  if (r < 50) {
    s.party->sends_presence(random_fields());
    s.party->settles();
  } else if (r < 75) {
    s.party->closes();
    s.party.reset();
  } else {
    s.party->aborts();  // Prosody notices the reset on its own time
    s.party.reset();
    if (r >= 90) {  // the same full JID again at once, without presence
      s.party = logs_in(s.bare, s.resource);
      if (s.party) s.party->settles();
      ++tally_.relogins;
    }
  }
}

// A gap of the component's view for every user holding a key: r in [0, 100) picks it.
// Unless `patient`, a component restart or a blip returns without waiting until the
// component is ready again: the next sync may meet it re-learning (not-ready, retried).
void ProsodyTrial::gap_event(unsigned r, bool patient) {
  if (!patient) ++tally_.impatient;
  for (auto& u : users_) {
    if (u.key) u.gap = true;
    if (u.online) ++tally_.online_gaps;
  }
  if (r < 30) {
    restart_component(/*crash=*/false, patient);
  } else if (r < 60) {
    restart_component(/*crash=*/true, patient);
  } else if (r < 92) {
    blip(patient);
  } else {
    server_restart();
  }
}

void ProsodyTrial::restart_component(bool crash, bool patient) {
  if (crash) {
    ++tally_.kills;
    component_->kill9();
  } else {
    ++tally_.terms;
    EXPECT_EQ(component_->terminate(), 0) << component_->log();
  }
  // Contacts change while it is away.
  for (unsigned n = roll(3); n > 0; --n) contact_event(pick(slots_));
  std::string why;
  ASSERT_TRUE(component_->start(&why)) << why;
  if (patient) {
    ASSERT_TRUE(ready(&why)) << why;
  }
}

void ProsodyTrial::blip(bool patient) {
  ++tally_.blips;
  const auto before = proxy_->connections();
  proxy_->cut();
  std::this_thread::sleep_for(std::chrono::milliseconds(50 + roll(300)));
  for (unsigned n = roll(3); n > 0; --n) contact_event(pick(slots_));
  proxy_->resume();
  if (!patient) return;
  std::string why;
  // Ready again only once the component reconnected: the old stream is gone.
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (proxy_->connections() == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  ASSERT_GT(proxy_->connections(), before) << "the component did not reconnect\n"
                                           << component_->log();
  ASSERT_TRUE(ready(&why)) << why;
}

// Every session ends; the contacts log in again later through contact events.
void ProsodyTrial::server_restart() {
  ++tally_.server_restarts;
  for (auto& s : slots_) s.party.reset();
  for (auto& u : users_) u.online.reset();
  ASSERT_TRUE(world->server().restart()) << world->server().log();
  std::string why;
  ASSERT_TRUE(ready(&why)) << why;
}

// A sync with the user's key from this session, retried while the component answers
// not-ready (a 'wait' error changed nothing); `id` is the IQ id of the last attempt.
Answer ProsodyTrial::syncs(const User& u, Party& p, std::string* id) {
  Answer a;
  for (int attempt = 0;; ++attempt) {
    *id = "s" + std::to_string(++iq_);
    a = p.sends_sync(component(), *id, *u.key);
    if (a.app() != AppCondition::kNotReady || attempt == kNotReadyRetries) return a;
    tally_.failure(u, "not-ready");
    std::this_thread::sleep_for(500ms);
  }
}

// Counts a failed sync by condition; an unknown-key is expected after a lost answer that was
// an error of type cancel (continuity-lost, expired: the key was retired).
void ProsodyTrial::failed(User& u, const Answer& a, bool after_lost_error) {
  std::string c = "no-answer";
  if (a.error)
    c = a.app() == AppCondition::kNone ? std::string(proto::to_string(a.error->condition))
                                       : std::string(proto::to_string(a.app()));
  else if (a.arrived)
    c = "unreadable-delta";
  if (after_lost_error && a.app() == AppCondition::kUnknownKey) c += " after a lost error";
  tally_.failure(u, c);
  if (u.remote && u.gap && a.app() == AppCondition::kContinuityLost) {
    ++tally_.remote_gap_lost;
    ++u.gap_lost;
  }
}

// The delta applied to the model the user held at the key, against a fresh login after the
// sync (and the one before it: when they differ Prosody was still ending a session, no
// verdict). True when it is right; `model` is then the state the client holds.
bool ProsodyTrial::judge(const User& u, const proto::Delta& d, const Flood& before,
                         proto::PresenceState* model) {
  *model = u.model;
  if (!proto::apply(*model, d) || proto::digest_of(*model) != d.state) {
    ++tally_.refused;
    return false;
  }
  const Flood after = fresh_full_login(u.bare);
  if (!before.complete || !after.complete || before.state != after.state) {
    ++tally_.unsettled;
    return false;
  }
  if (*model != after.state) {
    ++tally_.wrong;
    if (tally_.first_wrong.empty())
      tally_.first_wrong = "round " + std::to_string(tally_.rounds) + " " + u.bare +
                           (u.gap ? " (after a gap)" : "") + ": delta " + describe(d) + "\nheld " +
                           describe(u.model) + "\nmodel " + describe(*model) + "\nfresh " +
                           describe(after.state);
    return false;
  }
  ++tally_.deltas;
  if (u.gap) ++(u.remote ? tally_.remote_gap_deltas : tally_.gap_deltas);
  return true;
}

// The user syncs with its key. A lost result: the TCP connection is reset right after the
// answer, the client keeps its key and model. Otherwise a right delta moves the client to
// the new session's key (half the time through a verification checkpoint). True when kept.
bool ProsodyTrial::sync_round(User& u, Party& p, bool lose_result) {
  const Flood before = fresh_full_login(u.bare);
  if (u.retry) ++tally_.retries;
  const bool after_lost_error = u.lost_error;
  u.retry = u.lost_error = false;
  std::string id;
  const Answer a = syncs(u, p, &id);
  if (lose_result) {
    p.aborts();
    ++tally_.lost;
    u.retry = true;
    u.lost_error = a.error && a.error->type == proto::ErrorType::kCancel;
  }
  std::string why;
  auto delta = delta_of(a, &why);
  if (!delta) {
    failed(u, a, after_lost_error);
    return false;
  }
  proto::PresenceState model;
  if (!judge(u, *delta, before, &model) || lose_result) return lose_result;
  u.model = model;
  u.key = p.key(id);
  u.gap = false;
  if (roll(2) == 0) {
    const std::string cid = "c" + std::to_string(++iq_);
    const Answer c = p.sends_checkpoint(component(), cid, id);
    auto cp = c.ok() ? proto::parse_checkpointed(*c.payload)
                     : proto::Result<proto::Checkpointed>(proto::bad_request("no checkpoint"));
    if (cp.ok() && cp->state == proto::digest_of(model)) {
      u.key = p.key(cid);
    } else {
      tally_.failure(u, "checkpoint-mismatch");
      return false;
    }
  }
  return true;
}

// A normal login: initial presence, the flood, an enable whose digest must match it.
void ProsodyTrial::enable_round(User& u, Party& p) {
  const Flood flood = flood_of(p);
  ASSERT_TRUE(flood.complete);
  std::string id;
  Answer enabled;
  for (int attempt = 0;; ++attempt) {
    id = "e" + std::to_string(++iq_);
    enabled = p.sends_enable(component(), id);
    if (enabled.app() != AppCondition::kNotReady || attempt == kNotReadyRetries) break;
    tally_.failure(u, "not-ready");
    std::this_thread::sleep_for(500ms);
  }
  auto e = enabled.ok() ? proto::parse_enabled(*enabled.payload)
                        : proto::Result<proto::Enabled>(proto::bad_request("no enable"));
  u.model = flood.state;
  u.gap = false;
  u.key.reset();
  if (e.ok() && e->state == proto::digest_of(flood.state))
    u.key = p.key(id);
  else
    ++tally_.unkeyed;
}

// One reconnect of `u`. A session is sometimes left open until the user's next round, so
// that the user is online through the gaps and contact changes in between.
void ProsodyTrial::user_round(User& u, bool lose_result) {
  ++tally_.rounds;
  if (u.online) u.online->closes();
  u.online.reset();
  auto p = logs_in(u.bare, "phone");
  ASSERT_TRUE(p);
  const bool kept = u.key && sync_round(u, *p, lose_result);
  if (lose_result) return;  // the session is gone; the key stays for the retry
  if (!kept) enable_round(u, *p);
  if (roll(100) < 20)
    u.online = std::move(p);
  else
    p->closes();
}

// Every user holds a live key (a pending retry is made first), then one more gap, then
// every user reconnects.
void ProsodyTrial::closing_gap() {
  for (auto& u : users_)
    if (!u.key || u.retry) user_round(u, false);
  if (HasFatalFailure()) return;
  gap_event(roll(100), /*patient=*/true);
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(100ms);
  for (auto& u : users_) user_round(u, false);
}

void ProsodyTrial::run_trial() {
  const unsigned seed = env_or("RPSYNC_TRIAL_SEED", 18);
  const auto budget = std::chrono::seconds(env_or("RPSYNC_TRIAL_SECONDS", 60));
  RPSYNC_SCENARIO_START(trial_world());
  std::string why;
  ASSERT_TRUE(start_proxied(&why)) << why;
  for (auto [bare, remote] : {std::pair{"alice@example.test", false},
                              {"bob@example.test", false},
                              {"carol@example.test", true},
                              {"dave@example.test", true}})
    users_.push_back(user(bare, remote));
  for (const char* c :
       {"c1@example.test", "c2@example.test", "x1@other.test", "x2@other.test", "t1@third.test"})
    for (const char* r : {"a", "b"}) slots_.push_back({c, r, nullptr});
  for (std::size_t i = 0; i < slots_.size(); i += 2) contact_event(slots_[i]);
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (unsigned step = 0; tally_.rounds < kMaxRounds && std::chrono::steady_clock::now() < deadline;
       ++step) {
    // Each step draws from (seed, step): an outcome that depends on timing (a not-ready, a
    // failed sync) changes what the rest of its step draws, never the later steps' events.
    std::seed_seq at{seed, step};
    rng_.seed(at);
    for (unsigned n = 1 + roll(3); n > 0; --n) contact_event(pick(slots_));
    if (roll(100) < 20) gap_event(roll(100), /*patient=*/roll(100) >= 25);
    if (HasFatalFailure()) break;
    std::this_thread::sleep_for(100ms);  // session ends reach Prosody and the component
    User& u = pick(users_);
    user_round(u, u.key && roll(100) < 15);
    if (HasFatalFailure()) break;
  }
  std::seed_seq closing{seed, ~0u};
  rng_.seed(closing);
  if (!HasFatalFailure()) closing_gap();
  std::printf("[trial] seed=%u %s\n", seed, tally_.line().c_str());
  std::fflush(stdout);
  if (!HasFatalFailure()) expectations();
}

void ProsodyTrial::expectations() {
  EXPECT_EQ(tally_.wrong, 0) << tally_.first_wrong;
  EXPECT_GT(tally_.rounds, 5) << "the trial did too little to mean anything";
  EXPECT_GE(tally_.gap_deltas, 1) << "covered users' keys did not survive any gap: "
                                  << tally_.line() << "\n"
                                  << component_->log();
  EXPECT_EQ(tally_.remote_gap_deltas, 0) << "a delta across a gap for a user with a remote contact";
  for (const auto& u : users_) {
    if (u.remote) {
      EXPECT_GE(u.gap_lost, 1) << u.bare << " never got continuity-lost after a gap";
    }
  }
}

TEST_F(ProsodyTrial, MixedGapsNoWrongDelta) {
  run_trial();
}

}  // namespace
}  // namespace rpsync::test::scenario
