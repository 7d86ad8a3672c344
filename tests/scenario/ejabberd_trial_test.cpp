// SPDX-License-Identifier: MIT
// A randomized trial on ejabberd 23.01: contacts' resources come online, change, log out,
// drop abruptly, log in again with the same resource and no presence; contacts are removed
// from and added back to alice's roster; the component restarts. Between these alice
// reconnects with her key, and every delta is compared with a fresh login of hers.
//
// Counted: deltas right, deltas the client would refuse (its digest check fails: a normal
// login follows, no harm), sync failures by condition, and wrong deltas (digest agrees,
// state differs from a fresh login: the client could not notice). Wrong deltas must be 0,
// with mod_rpsync_gate's session reports and without them.
//
// Seeded (RPSYNC_TRIAL_SEED, default 18) and bounded: at most kMaxRounds reconnects and
// RPSYNC_TRIAL_SECONDS (default 40) seconds per run.
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>

#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxRounds = 60;
const std::string kAlice = "alice@example.test";

unsigned env_or(const char* name, unsigned fallback) {
  const char* v = std::getenv(name);
  return v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : fallback;
}

struct Slot {
  std::string bare, resource;
  std::unique_ptr<Party> party;
};

struct Tally {
  int rounds = 0, deltas = 0, refused = 0, wrong = 0, restarts = 0, removals = 0, readds = 0;
  int drops = 0, relogins = 0;
  int unkeyed = 0;  // normal logins whose enable digest differed: no key kept
  std::map<std::string, int> failures;
  std::string first_wrong;
  std::string line() const {
    std::string f;
    for (const auto& [c, n] : failures) f += (f.empty() ? "" : ",") + c + ":" + std::to_string(n);
    return "rounds " + std::to_string(rounds) + ", deltas " + std::to_string(deltas) +
           ", refused by digest " + std::to_string(refused) + ", no key after enable " +
           std::to_string(unkeyed) + ", failures {" + (f.empty() ? "-" : f) + "}, wrong " +
           std::to_string(wrong) + " | events: drops " + std::to_string(drops) +
           ", same-resource re-logins " + std::to_string(relogins) + ", removals " +
           std::to_string(removals) + ", re-adds " + std::to_string(readds) +
           ", component restarts " + std::to_string(restarts);
  }
};

class EjabberdTrial : public Scenario<EjabberdServer> {
 protected:
  void run_trial(bool module);

 private:
  void contact_event(Slot& s);
  void roster_event(const std::string& contact);
  void alice_round(Tally& t);
  unsigned roll(unsigned n) { return static_cast<unsigned>(rng_() % n); }
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
  std::map<std::string, bool> in_roster_;
  std::optional<proto::SyncKey> key_;
  proto::PresenceState model_;
  int iq_ = 0;
};

void EjabberdTrial::contact_event(Slot& s) {
  const unsigned r = roll(100);
  if (!s.party) {
    s.party = logs_in(s.bare, s.resource);
    if (s.party && r < 80) s.party->sends_presence(random_fields());
    if (s.party) s.party->settles();
    return;
  }
  if (r < 35) {
    s.party->sends_presence(random_fields());
    s.party->settles();
  } else if (r < 55) {
    s.party->closes();
    s.party.reset();
  } else {
    s.party->aborts();
    s.party.reset();
    ++tally_.drops;
    std::this_thread::sleep_for(150ms);
    if (r >= 80) {  // the same full JID again, without presence
      s.party = logs_in(s.bare, s.resource);
      if (s.party) s.party->settles();
      ++tally_.relogins;
    }
  }
}

void EjabberdTrial::roster_event(const std::string& contact) {
  auto at_o = kAlice.find('@');
  auto at_c = contact.find('@');
  if (in_roster_[contact]) {
    std::string error;
    ASSERT_TRUE(world->server().api("delete_rosteritem",
                                    "{\"localuser\":\"" + kAlice.substr(0, at_o) +
                                        "\",\"localhost\":\"" + kAlice.substr(at_o + 1) +
                                        "\",\"user\":\"" + contact.substr(0, at_c) +
                                        "\",\"host\":\"" + contact.substr(at_c + 1) + "\"}",
                                    &error))
        << error;
    ++tally_.removals;
  } else {
    // Both sides: the removal cancelled the contact's subscription from alice too.
    ASSERT_TRUE(world->server().add_roster_item(kAlice, contact, Subscription::kBoth));
    ASSERT_TRUE(world->server().add_roster_item(contact, kAlice, Subscription::kBoth));
    ++tally_.readds;
  }
  in_roster_[contact] = !in_roster_[contact];
}

// alice reconnects: a sync with her key (its delta checked against a fresh login), or a
// normal login and enable when she has none or the sync failed.
void EjabberdTrial::alice_round(Tally& t) {
  ++t.rounds;
  auto a = logs_in(kAlice, "phone");
  ASSERT_TRUE(a);
  const std::string id = "q" + std::to_string(++iq_);
  bool synced = false;
  if (key_) {
    const Answer answer = a->sends_sync(component(), id, *key_);
    ASSERT_TRUE(answer.arrived);
    std::string why;
    if (auto delta = delta_of(answer, &why)) {
      proto::PresenceState model = model_;
      const bool fits = proto::apply(model, *delta) && proto::digest_of(model) == delta->state;
      if (!fits) {
        ++t.refused;
      } else {
        const Flood fresh = fresh_full_login(kAlice);
        if (model == fresh.state) {
          ++t.deltas;
          model_ = model;
          synced = true;
        } else {
          ++t.wrong;
          if (t.first_wrong.empty())
            t.first_wrong = "round " + std::to_string(t.rounds) + ": delta " + describe(*delta) +
                            "\nmodel " + describe(model) + "\nfresh " + describe(fresh.state);
        }
      }
    } else {
      ++t.failures[answer.error ? std::string(proto::to_string(answer.error->app)) : "none"];
    }
  }
  key_.reset();
  if (synced) {
    key_ = a->key(id);
  } else {
    const Flood flood = flood_of(*a);
    ASSERT_TRUE(flood.complete);
    const Answer enabled = a->sends_enable(component(), id + "e");
    auto e = enabled.ok() ? proto::parse_enabled(*enabled.payload)
                          : proto::Result<proto::Enabled>(proto::bad_request("no enable"));
    model_ = flood.state;
    if (e.ok() && e->state == proto::digest_of(flood.state))
      key_ = a->key(id + "e");
    else
      ++t.unkeyed;
  }
  a->closes();
}

void EjabberdTrial::run_trial(bool module) {
  const unsigned seed = env_or("RPSYNC_TRIAL_SEED", 18);
  const auto budget = std::chrono::seconds(env_or("RPSYNC_TRIAL_SECONDS", 40));
  rng_.seed(seed + (module ? 1 : 0));
  const std::vector<std::string> contacts{"c1@example.test", "c2@example.test", "c3@other.test"};
  WorldSpec spec = user_with_contacts(kAlice, contacts);
  spec.ejabberd_module = module;
  if (module && EjabberdServer::built_gate_dir().empty())
    GTEST_FAIL() << "build/ejabberd/mod_rpsync_gate.beam was not built (erlc missing?)";
  RPSYNC_SCENARIO_START(spec);
  std::vector<Slot> slots;
  for (const auto& c : contacts) {
    in_roster_[c] = true;
    for (const char* r : {"a", "b"}) slots.push_back({c, r, nullptr});
  }
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (tally_.rounds < kMaxRounds && std::chrono::steady_clock::now() < deadline) {
    for (unsigned n = 1 + roll(3); n > 0; --n)
      contact_event(slots[roll(static_cast<unsigned>(slots.size()))]);
    if (roll(100) < 15) roster_event(contacts[roll(static_cast<unsigned>(contacts.size()))]);
    if (roll(100) < 8) {
      ++tally_.restarts;
      EXPECT_EQ(world->component().terminate(), 0);
      std::string why;
      ASSERT_TRUE(world->start_component_again(&why)) << why;
    }
    std::this_thread::sleep_for(100ms);  // session ends reach the component
    alice_round(tally_);
    if (HasFatalFailure()) return;
  }
  report(std::string("trial ") + (module ? "with module" : "without module") + " seed " +
             std::to_string(seed),
         tally_.line());
  EXPECT_EQ(tally_.wrong, 0) << tally_.first_wrong;
  EXPECT_GT(tally_.rounds, 5) << "the trial did too little to mean anything";
  if (module) {
    EXPECT_GT(tally_.deltas, 0) << tally_.line();
  }
}

TEST_F(EjabberdTrial, WithSessionReportsNoWrongDelta) {
  run_trial(true);
}
TEST_F(EjabberdTrial, WithoutSessionReportsNoWrongDelta) {
  run_trial(false);
}

}  // namespace
}  // namespace rpsync::test::scenario
