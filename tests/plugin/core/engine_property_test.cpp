// SPDX-License-Identifier: MIT
// Property test: random sequences (fixed seeds) of presence changes, roster edits,
// enables, checkpoints (some results lost), disconnects, disables, gaps, restarts through a
// store, clock jumps, expiry sweeps and syncs (some results lost, then retried with the
// same key).
//
// An independent "truth" (every available resource and every visible roster, as the
// server knows them) and a model of the component's sessions predict every answer:
//  * after every successful sync the model client, holding the state of its key's moment,
//    applies the delta with proto::apply and must equal truth's view of the user; the
//    digest must match; the delta must be minimal (exactly proto::diff's items and the
//    roster changes between the two moments);
//  * every failure must be the predicted one (unknown-key, expired, continuity-lost), and
//    a success where the model predicts a failure (e.g. after a gap) is an error: no
//    silently incomplete delta. too-large is counted and must never answer a delta
//    that proto::diff finds empty.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/store/memory_store.h"

namespace rpsync::core {
namespace {

using proto::AppCondition;

constexpr int kContacts = 24;
constexpr int kResources = 3;
constexpr int kUsers = 4;
constexpr int kDevices = 2;                // per user
constexpr std::uint32_t kLifetime = 1000;  // seconds

std::string contact(int c) {
  return "c" + std::to_string(c) + "@x";
}
std::string user(int u) {
  return "u" + std::to_string(u) + "@x";
}

struct Moment {  // what the model knows about one key moment of a server session
  std::string id;
  std::uint64_t gaps = 0;
};
struct Retires {  // the key (of the same device) a sync answered to create a session
  std::string stream, last;
};
struct ServerSession {
  Moment newest;
  std::optional<Moment> previous;
  std::int64_t at_ms = 0;
  std::optional<Retires> retires;  // held until this session's newest moment is proven
};
struct Held {  // what a client holds: its key and the state/roster at the key's moment
  proto::SyncKey key;
  proto::PresenceState state;
  std::set<std::string> roster;
  bool lost = false;  // a sync with this key answered, but the result never arrived
};
struct Device {
  bool online = false;
  std::string stream;  // current stream when online
  std::optional<Held> held;
};

struct Counts {
  int syncs_ok = 0, retried_ok = 0, null_deltas = 0, unknown = 0, expired = 0, continuity = 0,
      too_large = 0;
  int unexpected_failure = 0, unexpected_success = 0;
  int checkpoints = 0, enables = 0, gaps = 0, restarts = 0;
};

class World {
 public:
  explicit World(unsigned seed) : rng_(seed) {
    opts_.lifetime_s = kLifetime;
    opts_.max_sessions_per_user = 1000;  // eviction is a unit test; here it would blur the model
    opts_.clock = [this] { return now_; };
    engine_ = std::make_unique<Engine>(opts_);
    engine_->restore(*store_.load());
    for (int u = 0; u < kUsers; ++u) {
      for (int c = 0; c < kContacts; ++c)
        if (pick(2) == 0) rosters_[user(u)].insert(contact(c));
      push_roster(u);
    }
    devices_.assign(kUsers * kDevices, Device{});
  }

  void run(int steps) {
    for (int i = 0; i < steps; ++i) {
      step_ = i;
      now_ += pick(5000);
      int op = pick(1000);
      if (op < 300)
        presence_available();
      else if (op < 420)
        presence_unavailable();
      else if (op < 460)
        roster_edit();
      else if (op < 580)
        login_or_enable(pick(kUsers * kDevices));
      else if (op < 700)
        checkpoint(pick(kUsers * kDevices));
      else if (op < 780)
        disconnect(pick(kUsers * kDevices));
      else if (op < 800)
        disable(pick(kUsers * kDevices));
      else if (op < 970)
        sync(pick(kUsers * kDevices));
      else if (op < 975)
        gap(false);
      else if (op < 978)
        gap(true);
      else if (op < 983)
        now_ += std::int64_t{kLifetime} * 1000 / 2 + pick(1000) * 1000;
      else
        sweep();
      persist();
      if (::testing::Test::HasFailure()) return;
      ASSERT_EQ(engine_->view(user(i % kUsers)), truth_view(i % kUsers)) << "step " << i;
    }
  }
  const Counts& counts() const { return n_; }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  proto::PresenceFields random_fields() {
    proto::PresenceFields f;
    f.show = static_cast<proto::Show>(pick(5));
    const char* statuses[] = {"", "", "lunch", "busy", "\xc3\xa9t\xc3\xa9"};
    f.status = statuses[pick(5)];
    f.priority = static_cast<std::int8_t>(pick(3) - 1);
    if (pick(3) == 0)
      f.caps = proto::Caps{"sha-1", "http://client/" + std::to_string(pick(2)), "v"};
    if (pick(4) == 0) f.photo = "abc" + std::to_string(pick(2));
    if (pick(5) == 0) f.idle_since = "2026-01-01T00:00:0" + std::to_string(pick(3)) + "Z";
    return f;
  }
  std::string random_resource() {
    return contact(pick(kContacts)) + "/r" + std::to_string(pick(kResources));
  }

  proto::PresenceState truth_view(int u) const {
    proto::PresenceState out;
    const auto& roster = rosters_.at(user(u));
    for (const auto& [jid, f] : truth_)
      if (roster.count(std::string(proto::bare_of(jid)))) out.emplace(jid, f);
    return out;
  }
  void push_roster(int u) {
    const auto& r = rosters_[user(u)];
    engine_->set_roster(user(u), std::vector<std::string>(r.begin(), r.end()));
  }

  void presence_available() {
    std::string jid = random_resource();
    auto f = random_fields();
    truth_[jid] = f;
    engine_->observe_available(jid, f);
  }
  void presence_unavailable() {
    std::string jid = random_resource();
    truth_.erase(jid);
    engine_->observe_unavailable(jid);
  }
  void roster_edit() {
    int u = pick(kUsers);
    auto& r = rosters_[user(u)];
    std::string c = contact(pick(kContacts));
    if (r.count(c))
      r.erase(c);
    else
      r.insert(c);
    push_roster(u);
  }

  std::string next_id(const char* prefix) { return prefix + std::to_string(++ids_); }
  int user_of(int d) const { return d / kDevices; }
  std::string res_of(int d) const { return "dev" + std::to_string(d % kDevices); }
  bool expired(const ServerSession& s) const {
    return now_ - s.at_ms >= std::int64_t{kLifetime} * 1000;
  }
  std::map<std::string, ServerSession>& sessions_of(int d) { return server_[d]; }

  void hold(int d, std::string last) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    dev.held = Held{{dev.stream, res_of(d), std::move(last)},
                    truth_view(user_of(d)),
                    rosters_[user(user_of(d))]};
  }

  // A normal full login (the client gets truth from the server) followed by enable.
  void login_or_enable(int d) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    if (dev.online) return;
    dev.online = true;
    dev.stream = next_id("s");
    enable(d);
  }
  void enable(int d) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    std::string iq = next_id("e");
    auto r = engine_->enable(user(user_of(d)), dev.stream, res_of(d), iq);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->state, proto::digest_of(truth_view(user_of(d))));
    sessions_of(d)[dev.stream] = ServerSession{{iq, gaps_}, std::nullopt, now_, std::nullopt};
    hold(d, iq);
    ++n_.enables;
  }

  void checkpoint(int d) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    if (!dev.online || !dev.held) return;
    std::string iq = next_id("c");
    auto r = engine_->checkpoint(user(user_of(d)), dev.stream, res_of(d), dev.held->key.last, iq);
    auto& sessions = sessions_of(d);
    auto it = sessions.find(dev.stream);
    if (it == sessions.end() || expired(it->second)) {
      ASSERT_FALSE(r.ok()) << "step " << step_;
      ASSERT_EQ(r.error().app, AppCondition::kNotEnabled);
      if (it != sessions.end()) sessions.erase(it);
      enable(d);  // the client re-enables in the same session
      return;
    }
    ASSERT_TRUE(r.ok()) << "step " << step_ << " " << r.error().text;
    ASSERT_EQ(r->state, proto::digest_of(truth_view(user_of(d))));
    ServerSession& s = it->second;
    prove(d, dev.stream);
    s.previous = s.newest;
    s.newest = {iq, gaps_};
    s.at_ms = now_;
    ++n_.checkpoints;
    if (pick(10) == 0) {
      dev.online = false;  // the result was lost with the connection: keep the old key
      return;
    }
    hold(d, iq);
  }

  // The client proved it received session `stream`'s newest moment: the key that moment
  // was synced from is retired (and, through its own newest moment, the one before).
  void prove(int d, const std::string& stream) {
    auto& sessions = sessions_of(d);
    std::optional<Retires> link = std::move(sessions.at(stream).retires);
    sessions.at(stream).retires.reset();
    while (link) {
      auto t = sessions.find(link->stream);
      if (t == sessions.end() || t->first == stream) return;
      const ServerSession& old = t->second;
      const bool named =
          old.newest.id == link->last || (old.previous && old.previous->id == link->last);
      if (!named) return;
      std::optional<Retires> next;
      if (old.newest.id == link->last) next = old.retires;
      sessions.erase(t);
      link = std::move(next);
    }
  }

  void disconnect(int d) { devices_[static_cast<std::size_t>(d)].online = false; }

  void disable(int d) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    if (!dev.online || !dev.held) return;
    auto r = engine_->disable(user(user_of(d)), dev.stream, res_of(d));
    auto& sessions = sessions_of(d);
    ASSERT_EQ(r.ok(), sessions.count(dev.stream) == 1) << "step " << step_;
    sessions.erase(dev.stream);
    dev.held.reset();
    dev.online = false;
  }

  void sync(int d) {
    Device& dev = devices_[static_cast<std::size_t>(d)];
    if (dev.online) return;
    if (!dev.held) {
      login_or_enable(d);
      return;
    }
    const int u = user_of(d);
    const Held held = *dev.held;
    std::string new_stream = next_id("s");
    std::string iq = next_id("y");
    auto r = engine_->sync(user(u), new_stream, res_of(d), iq, held.key);

    // What the model predicts.
    auto& sessions = sessions_of(d);
    auto it = sessions.find(held.key.stream);
    std::optional<AppCondition> expect;
    const Moment* m = nullptr;
    if (it != sessions.end()) {
      if (it->second.newest.id == held.key.last)
        m = &it->second.newest;
      else if (it->second.previous && it->second.previous->id == held.key.last)
        m = &*it->second.previous;
    }
    if (!m)
      expect = AppCondition::kUnknownKey;
    else if (expired(it->second))
      expect = AppCondition::kExpired;
    else if (m->gaps != gaps_)
      expect = AppCondition::kContinuityLost;

    dev.held.reset();
    // Quoting a session's newest key proves the result that created it arrived.
    if (m && m == &it->second.newest) prove(d, held.key.stream);
    if (!r.ok()) {
      AppCondition got = r.error().app;
      if (expect) {
        if (got != *expect) {
          ADD_FAILURE() << "step " << step_ << ": expected " << proto::to_string(*expect)
                        << ", got " << proto::to_string(got);
          ++n_.unexpected_failure;
        }
      } else if (got == AppCondition::kTooLarge) {
        ++n_.too_large;
        EXPECT_FALSE(proto::diff(held.state, truth_view(u)).empty() &&
                     held.roster == rosters_[user(u)])
            << "too-large for a null delta at step " << step_;
      } else {
        ADD_FAILURE() << "step " << step_ << ": a delta was possible, got "
                      << proto::to_string(got);
        ++n_.unexpected_failure;
      }
      switch (got) {
        case AppCondition::kUnknownKey:
          ++n_.unknown;
          break;
        case AppCondition::kExpired:
          ++n_.expired;
          break;
        case AppCondition::kContinuityLost:
          ++n_.continuity;
          break;
        default:
          break;
      }
      if (it != sessions.end() && got != AppCondition::kUnknownKey) sessions.erase(it);
      return;  // the client drops key and cache; its next sync logs in normally
    }
    if (expect) {
      ADD_FAILURE() << "step " << step_ << ": expected " << proto::to_string(*expect)
                    << " but got a delta";
      ++n_.unexpected_success;
      return;
    }
    const proto::Delta& delta = r.value();
    ++n_.syncs_ok;
    if (held.lost) ++n_.retried_ok;
    if (delta.empty()) ++n_.null_deltas;
    const auto now_view = truth_view(u);
    // Minimal: exactly the resource items proto::diff finds, and the roster changes.
    auto expected = proto::diff(held.state, now_view);
    EXPECT_EQ(delta.added.size(), expected.added.size()) << "step " << step_;
    EXPECT_EQ(delta.changed.size(), expected.changed.size()) << "step " << step_;
    EXPECT_EQ(delta.unavailable.size(), expected.unavailable.size()) << "step " << step_;
    std::set<std::string> added, removed;
    for (const auto& c : delta.contacts)
      (c.kind == proto::ContactChange::Kind::kAdded ? added : removed).insert(c.jid);
    std::set<std::string> want_added, want_removed;
    const auto& roster_now = rosters_[user(u)];
    for (const auto& c : roster_now)
      if (!held.roster.count(c)) want_added.insert(c);
    for (const auto& c : held.roster)
      if (!roster_now.count(c)) want_removed.insert(c);
    EXPECT_EQ(added, want_added) << "step " << step_;
    EXPECT_EQ(removed, want_removed) << "step " << step_;
    proto::PresenceState client = held.state;
    ASSERT_TRUE(proto::apply(client, delta)) << "step " << step_;
    ASSERT_EQ(client, now_view) << "step " << step_;
    ASSERT_EQ(proto::digest_of(client), delta.state) << "step " << step_;
    ASSERT_EQ(delta.lifetime, kLifetime);

    // The old key stays until the new session proves it received this result.
    sessions[new_stream] =
        ServerSession{{iq, gaps_}, std::nullopt, now_, Retires{held.key.stream, held.key.last}};
    if (pick(20) == 0) {
      dev.held = held;  // result lost: the client still holds its old key and retries it
      dev.held->lost = true;
      return;
    }
    dev.online = true;
    dev.stream = new_stream;
    hold(d, iq);
  }

  void sweep() {
    engine_->expire();
    for (auto& [d, sessions] : server_)
      for (auto it = sessions.begin(); it != sessions.end();)
        it = expired(it->second) ? sessions.erase(it) : std::next(it);
  }

  // Connection lost (or restart): presence changes happen unseen, then on reconnect the
  // component forgets presence and the server re-sends all of it, rosters are re-fetched.
  void gap(bool restart) {
    ++gaps_;
    if (restart) {
      ++n_.restarts;
      persist();
      engine_ = std::make_unique<Engine>(opts_);
      auto img = store_.load();
      ASSERT_TRUE(img.ok());
      engine_->restore(*img);
    } else {
      ++n_.gaps;
      engine_->gap();
    }
    for (int k = pick(6); k > 0; --k) {
      std::string jid = random_resource();
      if (pick(2))
        truth_[jid] = random_fields();
      else
        truth_.erase(jid);
    }
    for (int k = pick(3); k > 0; --k) {
      auto& r = rosters_[user(pick(kUsers))];
      std::string c = contact(pick(kContacts));
      if (r.count(c))
        r.erase(c);
      else
        r.insert(c);
    }
    engine_->clear_presence();
    for (const auto& [jid, f] : truth_) engine_->observe_available(jid, f);
    for (int u = 0; u < kUsers; ++u) push_roster(u);
    // Every device that stays connected keeps its session; its old moments are broken.
  }

  void persist() {
    ASSERT_TRUE(store_.write(engine_->take_changes()).ok());
    ASSERT_TRUE(store_.flush().ok());
  }

  std::mt19937 rng_;
  std::int64_t now_ = 1'700'000'000'000;
  EngineOptions opts_;
  store::MemoryStore store_;
  std::unique_ptr<Engine> engine_;
  std::map<std::string, proto::PresenceFields> truth_;
  std::map<std::string, std::set<std::string>> rosters_;
  std::vector<Device> devices_;
  std::map<int, std::map<std::string, ServerSession>> server_;
  std::uint64_t gaps_ = 0;
  int ids_ = 0;
  int step_ = 0;
  Counts n_;
};

class EngineProperty : public ::testing::TestWithParam<unsigned> {};

TEST_P(EngineProperty, EveryAnswerIsPredictedAndEveryDeltaExact) {
  World w(GetParam());
  w.run(10000);
  const Counts& n = w.counts();
  std::printf(
      "seed %u: %d deltas (%d null, %d after a lost result), failures: %d unknown-key, %d expired, "
      "%d continuity-lost, "
      "%d too-large; unexpected: %d failures, %d successes; %d enables, %d checkpoints, "
      "%d gaps, %d restarts\n",
      GetParam(), n.syncs_ok, n.null_deltas, n.retried_ok, n.unknown, n.expired, n.continuity,
      n.too_large, n.unexpected_failure, n.unexpected_success, n.enables, n.checkpoints, n.gaps,
      n.restarts);
  EXPECT_EQ(n.unexpected_failure, 0);
  EXPECT_EQ(n.unexpected_success, 0);
  // The sequence must actually exercise every path.
  EXPECT_GT(n.syncs_ok, 100);
  EXPECT_GT(n.retried_ok, 0);
  EXPECT_GT(n.unknown, 0);
  EXPECT_GT(n.expired, 0);
  EXPECT_GT(n.continuity, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineProperty, ::testing::Values(1u, 2u, 3u, 42u));

}  // namespace
}  // namespace rpsync::core
