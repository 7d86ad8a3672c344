// SPDX-License-Identifier: MIT
#include "bench/reconnect/storm.h"

#include <gloox/connectionlistener.h>
#include <gloox/connectiontcpbase.h>
#include <gloox/event.h>
#include <gloox/eventhandler.h>
#include <gloox/jid.h>
#include <gloox/tag.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>

#include "bench/common/figures.h"
#include "bench/common/timing.h"
#include "bench/reconnect/server_cpu.h"
#include "client_ext/client.h"
#include "client_ext/manager.h"
#include "client_ext/roster_cache.h"
#include "client_ext/store.h"
#include "protocol/ns.h"

namespace rpsync::bench {

namespace {

using Millis = std::chrono::milliseconds;

// A client that counts its contacts' available presence and notes the first
// <checkpointed/> answer (the marker's verification) or the server's confirmation.
class StormClient final : public client::Client {
 public:
  using client::Client::Client;
  void handleTag(gloox::Tag* tag) override {
    if (tag) {
      if (tag->name() == "presence" && !tag->hasAttribute("type") &&
          tag->findAttribute("from").rfind(jid().bare(), 0) != 0)
        ++contact_presences;
      if (tag->name() == "iq" &&
          tag->findChild("checkpointed", "xmlns", std::string(ns::kRpsync)) != nullptr)
        verified = true;
      if (tag->name() == "presence" && tag->findAttribute("from") == jid().full() &&
          tag->findChild("synced", "xmlns", std::string(ns::kRpsync)) != nullptr)
        verified = true;  // the server confirmed the marked presence
    }
    client::Client::handleTag(tag);
  }
  std::size_t contact_presences = 0;
  bool verified = false;
};

struct Flags final : public client::RpsyncHandler,
                     public gloox::ConnectionListener,
                     public gloox::EventHandler {
  void handleRpsyncSynced(const client::SyncStats&,
                          const std::vector<client::PresenceChange>&) override {
    synced = true;
  }
  void handleRpsyncFullResync(const client::FullResync& f) override {
    if (f.reason != client::FullResyncReason::kNoStoredState) full_resync = true;
  }
  void handleRpsyncPresence(const client::PresenceChange&) override {}
  void handleRpsyncEnabled(bool) override { enabled = true; }
  void onConnect() override { connected = true; }
  void onDisconnect(gloox::ConnectionError) override { disconnected = true; }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void handleEvent(const gloox::Event& e) override {
    if (e.eventType() == gloox::Event::PingPong) pong = true;
  }
  bool synced = false, full_resync = false, enabled = false, connected = false,
       disconnected = false, pong = false;
};

// One account: what survives an application restart (stores) and one process's objects.
class Account {
 public:
  Account(const StormSetup& s, const std::string& user, bool rpsync)
      : setup_(s), jid_(user + "@" + s.host + "/storm"), rpsync_(rpsync) {}

  // A new client (and manager) over the same stores; then connect().
  void start() {
    manager_.reset();
    client_ = std::make_unique<StormClient>(gloox::JID(jid_), setup_.password, setup_.c2s_port);
    client_->setServer("127.0.0.1");
    client_->setTls(gloox::TLSDisabled);
    client_->setCompression(false);
    client_->setPresence(gloox::Presence::Available, 0, "");
    flags_ = Flags{};
    client_->registerConnectionListener(&flags_);
    // Both modes reuse SCRAM keys: one thread runs all M clients, and M key derivations
    // (35-45 ms each) in a row would be billed to plain's storm as if it were the server's.
    client_->set_scram_cache(&scram_);
    if (rpsync_) {
      client_->set_roster_cache(&roster_);
      client::RpsyncOptions ro;
      ro.component = setup_.component;
      ro.settle_quiet = Millis(300);
      manager_ = std::make_unique<client::RpsyncManager>(*client_, &store_, &flags_, ro);
    } else {  // gloox's wire behaviour
      client_->set_skip_optional_session(false);
      client_->set_tcp_nodelay(false);
    }
    pinged_ = false;
    state_at_.reset();
    done_at_.reset();
    client_->connect(false);
  }
  // One non-blocking turn; notes when the state is held and when the ping returned.
  // Once done, it still reads and ticks: a client that fell back enables afterwards.
  void step(Clock::time_point now) {
    if (flags_.disconnected) return;
    if (client_->recv(0) != gloox::ConnNoError) flags_.disconnected = true;
    if (manager_) manager_->tick();
    if (done_at_) return;
    const bool flood = client_->contact_presences >= setup_.contacts;
    const bool state = flags_.connected && (rpsync_ && !flags_.full_resync ? flags_.synced : flood);
    if (state && !state_at_) state_at_ = now;
    if (state && !pinged_) {
      client_->xmppPing(gloox::JID(setup_.host), &flags_);
      pinged_ = true;
    }
    if (flags_.pong && (!rpsync_ || flags_.full_resync || client_->verified)) done_at_ = now;
  }
  bool finished() const { return done_at_.has_value() || failed(); }
  bool failed() const { return flags_.disconnected && !done_at_; }
  bool synced() const { return flags_.synced && !flags_.full_resync; }
  bool fell_back() const { return flags_.full_resync; }
  // Prepared: rpsync holds a key (enabled, or synced), plain logged in once (SCRAM key
  // cached).
  bool prepared() const { return rpsync_ ? flags_.enabled || synced() : flags_.connected; }
  void leave() {
    if (manager_)
      manager_->logout();
    else
      client_->disconnect();
  }
  bool gone() {
    if (!flags_.disconnected && client_->recv(0) != gloox::ConnNoError) flags_.disconnected = true;
    if (manager_) manager_->tick();
    return flags_.disconnected;
  }
  std::size_t bytes() const { return client_->bytes_received(); }
  // gloox's socket (-1 when not connected), to wait on.
  int socket() const {
    auto* tcp =
        client_ ? dynamic_cast<gloox::ConnectionTCPBase*>(client_->connectionImpl()) : nullptr;
    return tcp != nullptr ? tcp->socket() : -1;
  }
  std::optional<Clock::time_point> state_at() const { return state_at_; }
  std::optional<Clock::time_point> done_at() const { return done_at_; }

 private:
  const StormSetup& setup_;
  std::string jid_;
  bool rpsync_;
  client::MemorySessionStore store_;
  client::MemoryRosterCache roster_;
  client::MemoryScramCache scram_;
  Flags flags_;
  std::unique_ptr<StormClient> client_;
  std::unique_ptr<client::RpsyncManager> manager_;
  bool pinged_ = false;
  std::optional<Clock::time_point> state_at_, done_at_;
};

// Until no client's socket is readable for 5 ms (then timers may be due): the bench must
// not spin, its CPU is the servers' CPU on a small machine.
void wait_readable(std::span<const std::unique_ptr<Account>> accounts) {
  std::vector<pollfd> fds;
  for (const auto& a : accounts)
    if (a->socket() >= 0) fds.push_back({a->socket(), POLLIN, 0});
  (void)::poll(fds.data(), fds.size(), 5);
}

template <class F>
bool pump_all(std::span<std::unique_ptr<Account>> accounts, F done, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (long i = 0; i < 10000000L && Clock::now() < deadline; ++i) {
    bool all = true;
    for (auto& a : accounts) all = done(*a) && all;
    if (all) return true;
    wait_readable(accounts);
  }
  return false;
}

// Every account logs out and its stream ends (bounded).
void leave_all(std::span<std::unique_ptr<Account>> accounts) {
  for (auto& a : accounts) a->leave();
  pump_all(
      accounts, [](Account& a) { return a.gone(); }, Millis(20000));
}

// Pumps a started wave until every account is prepared (holds a key again) or failed,
// then all leave.
void prepare_and_leave(const StormSetup& s, std::span<std::unique_ptr<Account>> wave) {
  pump_all(
      wave,
      [](Account& a) {
        a.step(Clock::now());
        return a.prepared() || a.failed();
      },
      s.timeout);
  leave_all(wave);
}

struct StormSample {
  double bytes = 0, server_cpu = 0, component_cpu = 0, state_ms = 0, complete_ms = 0;
  std::size_t failed = 0, synced = 0, fell_back = 0;
};

// One wave: its clients connect at once and are pumped until each finished; then, so the
// next round finds a key again, until each rpsync client holds one; then all leave.
void one_wave(const StormSetup& s, std::span<std::unique_ptr<Account>> wave, Clock::time_point t0,
              StormSample& out) {
  for (auto& a : wave) a->start();
  auto step = [](Account& a) {
    a.step(Clock::now());
    return a.finished();
  };
  pump_all(wave, step, s.timeout);
  for (auto& a : wave) {
    out.bytes += static_cast<double>(a->bytes());
    if (a->synced()) ++out.synced;
    if (a->fell_back()) ++out.fell_back;
    if (a->failed() || !a->done_at()) {
      ++out.failed;
      continue;
    }
    out.state_ms = std::max(out.state_ms, ms_between(t0, *a->state_at()));
    out.complete_ms = std::max(out.complete_ms, ms_between(t0, *a->done_at()));
  }
  prepare_and_leave(s, wave);
}

StormSample one_storm(const StormSetup& s, std::vector<std::unique_ptr<Account>>& accounts) {
  CpuMeter server(s.server_pid), component(s.component_pid);
  server.start();
  component.start();
  const auto t0 = Clock::now();
  StormSample out;
  const std::size_t size = s.wave > 0 ? s.wave : accounts.size();
  for (std::size_t i = 0; i < accounts.size(); i += size)
    one_wave(s, std::span(accounts).subspan(i, std::min(size, accounts.size() - i)), t0, out);
  out.server_cpu = server.elapsed();
  out.component_cpu = component.elapsed();
  return out;
}

StormRow summarise(const std::string& mode, const std::vector<StormSample>& samples) {
  StormRow r;
  r.mode = mode;
  r.rounds = static_cast<int>(samples.size());
  r.bytes = median_of(samples, [](const StormSample& x) { return x.bytes; });
  r.server_cpu_ms = median_of(samples, [](const StormSample& x) { return x.server_cpu; });
  r.component_cpu_ms = median_of(samples, [](const StormSample& x) { return x.component_cpu; });
  r.state_ms = median_of(samples, [](const StormSample& x) { return x.state_ms; });
  r.complete_ms = median_of(samples, [](const StormSample& x) { return x.complete_ms; });
  for (const auto& x : samples) {
    r.failed += x.failed;
    r.synced += x.synced;
    r.fell_back += x.fell_back;
  }
  return r;
}

// One full login per account, a wave at a time, until it is prepared (or failed).
void prepare(const StormSetup& s, std::vector<std::unique_ptr<Account>>& accounts) {
  const std::size_t size = s.wave > 0 ? s.wave : accounts.size();
  for (std::size_t i = 0; i < accounts.size(); i += size) {
    auto wave = std::span(accounts).subspan(i, std::min(size, accounts.size() - i));
    for (auto& a : wave) a->start();
    prepare_and_leave(s, wave);
  }
}

}  // namespace

std::vector<StormRow> run_storm(StormSetup s, const std::function<void()>& between) {
  std::vector<std::unique_ptr<Account>> plain, rpsync;
  for (const auto& user : s.users) {
    plain.push_back(std::make_unique<Account>(s, user, false));
    rpsync.push_back(std::make_unique<Account>(s, user, true));
  }
  // One full login per account (rpsync: until enabled, the key is then stored), then out.
  for (auto* group : {&plain, &rpsync}) {
    prepare(s, *group);
    between();
  }
  std::vector<StormSample> p, r;
  for (int i = 0; i < s.rounds; ++i) {  // alternating, so load drift hits both alike
    p.push_back(one_storm(s, plain));
    between();
    if (s.before_rpsync)
      if (pid_t pid = s.before_rpsync()) s.component_pid = pid;
    r.push_back(one_storm(s, rpsync));
    between();
  }
  return {summarise("plain", p), summarise("gate_rv", r)};
}

}  // namespace rpsync::bench
