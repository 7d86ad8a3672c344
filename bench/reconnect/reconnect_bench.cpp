// SPDX-License-Identifier: MIT
// rpsync_reconnect_bench: the reconnect of alice (a gloox client) with N online contacts,
// k of which changed status while she was away, against a real Prosody 0.12 on loopback
// with rpsync-component attached and mod_rpsync_gate loaded on the host.
//
// Modes, each measured from TCP connect to "presence state complete":
//   plain     - rpsync::client::Client without RpsyncManager and without a roster cache
//               (a plain gloox login). Complete = every contact's available presence
//               arrived, then a ping to the server returned.
//   nogate    - RpsyncManager with synced_marker = false (the initial presence is not
//               marked, so Prosody probes every contact as if mod_rpsync_gate were absent);
//               no roster cache. Complete = the delta was applied and verified, initial
//               presence sent, every contact's presence of the flood that still follows
//               arrived, then a ping returned.
//   gate_rv   - RpsyncManager with the marker (the gate drops the probes) AND roster
//               versioning: a MemoryRosterCache kept across logins like an application's.
//               Complete = the delta was applied and verified, the marked initial presence
//               sent, then a ping returned (Prosody answers the probes it would send before
//               the ping, so a flood that was not suppressed would be counted).
//   gate      - (optional, --gate-without-rosterver) the same without the roster cache.
// Bytes are exact wire bytes server -> client, counted by a loopback TCP proxy between
// alice and Prosody's c2s port; stanzas are top-level elements gloox received (stream
// features and SASL included). Every wait has a deadline, every loop a count, and the
// whole run a watchdog (--max-minutes).
#include <fcntl.h>
#include <gloox/connectionlistener.h>
#include <gloox/event.h>
#include <gloox/eventhandler.h>
#include <gloox/jid.h>
#include <gloox/loghandler.h>
#include <gloox/tag.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/figures.h"
#include "bench/common/presence.h"
#include "bench/common/text.h"
#include "bench/common/timing.h"
#include "bench/reconnect/bench_server.h"
#include "bench/reconnect/restart_storm.h"
#include "bench/reconnect/server_cpu.h"
#include "bench/reconnect/stanza_kinds.h"
#include "bench/reconnect/storm.h"
#include "bench/reconnect/strophe_driver.h"
#include "client_ext/client.h"
#include "client_ext/manager.h"
#include "client_ext/roster_cache.h"
#include "client_ext/store.h"
#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/tcp_proxy.h"
#include "tests/harness/test_client.h"
#include "tests/harness/util.h"
#include "tests/scenario/component_process.h"

namespace {

namespace fs = std::filesystem;
using rpsync::test::ProsodyServer;
using rpsync::test::TestClient;
using rpsync::test::scenario::ComponentProcess;
using rpsync::test::scenario::ComponentSpec;
using rpsync::xml::Element;
namespace ns = rpsync::ns;
using rpsync::bench::Clock;
using rpsync::bench::contact_presence;
using rpsync::bench::median;
using rpsync::bench::ms_between;
using rpsync::bench::progress;
using rpsync::bench::replace_all;
using rpsync::bench::seconds_since;
using Millis = std::chrono::milliseconds;

constexpr const char* kHost = "example.test";
constexpr const char* kComponent = "rpsync.example.test";
constexpr const char* kSecret = "bench-secret";
constexpr const char* kPassword = "pw";
constexpr int kLargeN = 1000;    // from here on --rounds-large applies
constexpr Millis kCpuTail{150};  // quiet time after "complete" before the CPU is read

struct Options {
  std::vector<int> contacts = {50, 500, 2000};
  std::vector<int> percents = {0, 5, 50};
  int rounds = 5;
  int rounds_large = 3;
  int warmup = 2;      // unmeasured reconnects of every mode before the first row
  bool nagle = false;  // Prosody's network_settings.nagle; our deployment turns it off
  bool gate_without_rosterver = false;
  bool trace = false;
  bool sasl_plain = false;  // gloox's default picks SCRAM-SHA-1 (see README: its cost)
  bool scram_cache = true;  // rpsync modes: the client library's SCRAM key cache, if it has one
  bool one_way = false;     // contacts do not see alice: isolates the broadcast of her presence
  // rpsync modes: every reconnect by a new client and manager over the same stores (session,
  // roster cache, SCRAM keys), as after an application restart; off: one object reused.
  bool restart = true;
  bool strophe = false;  // --client strophe: alice is a libstrophe client (strophe_driver.h)
  int max_minutes = 45;
  int storm_clients = 0;  // --storm MxC: M clients with C contacts each, instead of the matrix
  int storm_contacts = 0;
  int storm_rounds = 3;
  int storm_users = 0;                // --storm-users U: U accounts reconnect in waves of M (0 = M)
  bool restart_change_before = true;  // --restart-changes during: none before the stop
  std::string keep_logs;              // --keep-logs DIR: the storm's component and Prosody logs
  std::string restart_mode;           // --restart term|kill: the component restarts before each
                                      // rpsync storm (restart_storm.h)
  std::string csv = std::string(RPSYNC_BENCH_OUT_DIR) + "/bench_reconnect.csv";
  std::string component_bin = RPSYNC_COMPONENT_BIN;
  std::string gate_dir = RPSYNC_GATE_PLUGIN_DIR;
  std::string server = "prosody";  // or ejabberd (bench_server.h)
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_reconnect_bench: %s\n", why.c_str());
  std::exit(1);
}

// N contacts cost the bench N sockets and Prosody (which inherits the limit) as many:
// raise the soft RLIMIT_NOFILE to the hard limit when it is too low.
void ensure_fd_limit(int contacts) {
  const rlim_t need = static_cast<rlim_t>(contacts) + 512;
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) die("getrlimit failed");
  if (l.rlim_cur >= need) return;
  if (l.rlim_max != RLIM_INFINITY && l.rlim_max < need)
    die("RLIMIT_NOFILE hard limit " + std::to_string(l.rlim_max) + " < " + std::to_string(need) +
        " needed for " + std::to_string(contacts) +
        " contacts; raise it (ulimit -Hn) or use fewer --contacts");
  l.rlim_cur = need;
  if (::setrlimit(RLIMIT_NOFILE, &l) != 0) die("setrlimit(RLIMIT_NOFILE) failed");
  progress("raised RLIMIT_NOFILE to " + std::to_string(need));
}

// gloox 1.0.24 waits on its socket with select(), which aborts the process ("bit out of
// range 0 - FD_SETSIZE") for a descriptor >= 1024, and N contacts push new descriptors up
// there. Low descriptors held while the contacts connect and freed afterwards are where
// alice's sockets (the lowest free ones) land.
class LowFds {
 public:
  explicit LowFds(int count) {
    for (int i = 0; i < count; ++i) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) die("cannot open /dev/null");
      fds_.push_back(fd);
    }
  }
  ~LowFds() { release(); }
  LowFds(const LowFds&) = delete;
  LowFds& operator=(const LowFds&) = delete;
  void release() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

// The harness config, logging at warn (debug logging would be measured too), with
// mod_rpsync_gate on the user host (as tests/plugin/prosody/gate_world.cpp does it) and
// Nagle off on Prosody's sockets unless asked for (examples/prosody/rpsync.cfg.lua).
void patch_prosody_config(const ProsodyServer& server, const Options& o) {
  const fs::path cfg = fs::path(server.dir()) / "prosody.cfg.lua";
  std::string text =
      replace_all(rpsync::test::util::read_file(cfg), "log = { debug = ", "log = { warn = ");
  auto first_host = text.find("\nVirtualHost ");
  if (first_host == std::string::npos) die("unexpected harness config in " + cfg.string());
  std::string out = o.nagle ? "" : "network_settings = { nagle = false }\n";
  out += text.substr(0, first_host + 1);
  out += "plugin_paths = { \"" + o.gate_dir + "\" }\n";
  std::istringstream lines(text.substr(first_host + 1));
  for (std::string line; std::getline(lines, line);) {
    out += line + "\n";
    if (line == std::string("VirtualHost \"") + kHost + "\"")
      out += "  modules_enabled = { \"rpsync_gate\" }\n";
  }
  std::ofstream(cfg, std::ios::trunc) << out;
}

// rpsync-component as a child process logging to a file (as in bench/component).
// The component writes "connected privileged=yes" once its stream is up with privileges.
bool wait_connected(const ComponentProcess& component, const char* marker, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (component.log().find(marker) != std::string::npos) return true;
    std::this_thread::sleep_for(Millis(50));
  }
  return false;
}

// rpsync::client::Client may cache SCRAM keys (set_scram_cache(), on by default where it
// exists); the plain mode must be gloox as shipped. Compiles against clients without it.
template <class C>
void disable_scram_cache(C& client) {
  if constexpr (requires { client.set_scram_cache(nullptr); }) client.set_scram_cache(nullptr);
}
template <class C = rpsync::client::Client>
constexpr bool client_has_scram_cache() {
  return requires(C & c) {
    c.set_scram_cache(nullptr);
  };
}

// One line of a --trace timeline.
struct TraceEvent {
  Clock::time_point at;
  std::string what;
};

class Trace {
 public:
  void add(std::string what) {
    std::lock_guard lock(mu_);
    if (on_ && events_.size() < 5000) events_.push_back({Clock::now(), std::move(what)});
  }
  void start() {
    std::lock_guard lock(mu_);
    events_.clear();
    on_ = true;
  }
  // Prints and clears the timeline relative to t0.
  void dump(const std::string& title, Clock::time_point t0) {
    std::lock_guard lock(mu_);
    on_ = false;
    std::fprintf(stderr, "---- trace: %s\n", title.c_str());
    for (const auto& e : events_)
      std::fprintf(stderr, "%9.2f ms  %s\n", ms_between(t0, e.at), e.what.c_str());
    events_.clear();
  }

 private:
  std::mutex mu_;
  bool on_ = false;
  std::vector<TraceEvent> events_;
};

// gloox's XML log into the trace, one line per element, shortened.
class TraceLog final : public gloox::LogHandler {
 public:
  explicit TraceLog(Trace* trace) : trace_(trace) {}
  void handleLog(gloox::LogLevel, gloox::LogArea area, const std::string& message) override {
    const bool in = area == gloox::LogAreaXmlIncoming;
    std::string m = message.substr(0, 150);
    std::replace(m.begin(), m.end(), '\n', ' ');
    trace_->add(std::string(in ? "gloox <- " : "gloox -> ") + m +
                (message.size() > 150 ? "... (" + std::to_string(message.size()) + " chars)" : ""));
  }

 private:
  Trace* trace_;
};

double mean(const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  return xs.empty() ? 0 : sum / static_cast<double>(xs.size());
}

std::string contact_name(int i) {
  return rpsync::bench::contact_name(i, 4);
}

bool ping(TestClient& c, const std::string& to, const std::string& id) {
  return rpsync::bench::ping(c, to, id, Millis(30000)).has_value();
}

// alice: counts top-level elements and available contact presence per session, and notes
// when the roster result and the first <checkpointed/> (the marker's verification), or the
// server's confirmation on the reflection of the marked presence, arrived.
class Alice final : public rpsync::client::Client {
 public:
  using rpsync::client::Client::Client;
  void handleTag(gloox::Tag* tag) override {
    if (tag) {
      ++stanzas;
      std::string kind = rpsync::bench::stanza_kind(*tag, std::string("alice@") + kHost);
      if (kind == "iq result (empty)") kind += " to " + sent_iqs[tag->findAttribute("id")];
      kinds.add(kind, tag->xml().size());
      const std::string& name = tag->name();
      if (name == "iq" && tag->findAttribute("type") == "result") {
        if (!roster_at && tag->findAttribute("id") == roster_id) roster_at = Clock::now();
        if (!verified_at && tag->findChild("checkpointed", "xmlns", std::string(ns::kRpsync)))
          verified_at = Clock::now();
      }
      if (!verified_at && name == "presence" && tag->findAttribute("from") == jid().full() &&
          tag->findChild("synced", "xmlns", std::string(ns::kRpsync)))
        verified_at = Clock::now();  // the server confirmed the marked presence
      if (name == "presence" && !tag->hasAttribute("type") &&
          tag->findAttribute("from").rfind("alice@", 0) != 0 &&
          ++contact_presences == expect_presences)
        all_presences_at = Clock::now();
    }
    rpsync::client::Client::handleTag(tag);
  }
  // The roster get's id is only known once it was sent: the first outgoing iq get with a
  // jabber:iq:roster query (see RosterIdSpy).
  std::string roster_id;
  std::size_t stanzas = 0;
  std::size_t contact_presences = 0;
  std::size_t expect_presences = 0;             // N: all_presences_at is when the Nth arrived
  rpsync::bench::KindTally kinds;               // this session's elements by kind
  std::map<std::string, std::string> sent_iqs;  // id -> the payload's namespace (RosterIdSpy)
  std::optional<Clock::time_point> all_presences_at;
  std::optional<Clock::time_point> roster_at;    // the roster result arrived
  std::optional<Clock::time_point> verified_at;  // first checkpoint answer of the session
};

// Finds the id of the roster get in gloox's outgoing XML log (the client sends it through
// gloox's non-virtual send, so the log is the one place it shows up).
class RosterIdSpy final : public gloox::LogHandler {
  static std::string attribute(const std::string& m, std::size_t from, const char* prefix) {
    auto at = from == std::string::npos ? from : m.find(prefix, from);
    if (at == std::string::npos) return "";
    at += std::string(prefix).size();
    auto end = m.find('\'', at);
    return end == std::string::npos ? "" : m.substr(at, end - at);
  }

 public:
  explicit RosterIdSpy(Alice* alice) : alice_(alice) {}
  void handleLog(gloox::LogLevel, gloox::LogArea area, const std::string& m) override {
    if (area != gloox::LogAreaXmlOutgoing || m.rfind("<iq", 0) != 0) return;
    const std::string id = attribute(m, 0, " id='");
    if (alice_->sent_iqs.size() < 1000)
      alice_->sent_iqs[id] = attribute(m, m.find('>'), " xmlns='");
    if (!alice_->roster_id.empty() || m.find("jabber:iq:roster") == std::string::npos) return;
    alice_->roster_id = id;
  }

 private:
  Alice* alice_;
};

struct Events final : public rpsync::client::RpsyncHandler,
                      public gloox::ConnectionListener,
                      public gloox::EventHandler {
  void handleRpsyncSynced(const rpsync::client::SyncStats& s,
                          const std::vector<rpsync::client::PresenceChange>&) override {
    synced = true;
    synced_at = Clock::now();
    items = s.items;
  }
  void handleRpsyncFullResync(const rpsync::client::FullResync& f) override {
    full_resync = true;
    resync_reason = std::string(rpsync::client::to_string(f.reason));
    if (!f.detail.empty()) resync_reason += " (" + f.detail + ")";
  }
  void handleRpsyncPresence(const rpsync::client::PresenceChange&) override {}
  void handleRpsyncEnabled(bool) override { enabled = true; }
  void onConnect() override {
    connected = true;
    connected_at = Clock::now();
  }
  void onDisconnect(gloox::ConnectionError) override { disconnected = true; }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void handleEvent(const gloox::Event& e) override {
    if (e.eventType() == gloox::Event::PingPong) pong = true;
  }
  void reset() {
    synced = full_resync = connected = disconnected = pong = false;
    items = 0;
    resync_reason.clear();
  }
  bool synced = false, full_resync = false, enabled = false, connected = false,
       disconnected = false, pong = false;
  std::size_t items = 0;
  std::string resync_reason;
  Clock::time_point synced_at{}, connected_at{};
};

enum class Mode { kPlain, kNoGate, kGateRosterVer, kGate };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kPlain:
      return "plain";
    case Mode::kNoGate:
      return "rpsync, no gate";
    case Mode::kGateRosterVer:
      return "gate + roster ver";
    case Mode::kGate:
      return "gate, no roster ver";
  }
  return "?";
}
const char* mode_key(Mode m) {
  switch (m) {
    case Mode::kPlain:
      return "plain";
    case Mode::kNoGate:
      return "nogate";
    case Mode::kGateRosterVer:
      return "gate_rv";
    case Mode::kGate:
      return "gate";
  }
  return "?";
}
bool gated(Mode m) {
  return m == Mode::kGateRosterVer || m == Mode::kGate;
}

struct Run {
  double bytes = 0, stanzas = 0, ms = 0, presences = 0;
  // connect -> roster result; -> delta applied; -> initial presence sent; -> marker verified
  double roster_ms = 0, synced_ms = 0, presence_ms = 0, verified_ms = 0;
  // connect -> the client holds every contact's presence: plain, the Nth contact presence
  // arrived; rpsync modes, the delta was applied and its digest verified.
  double state_ms = 0;
  double roster_bytes = 0;  // the roster result as received
  // CPU ms Prosody and the component spent from connect() to the end of the measurement
  // (the marker's verification included; the logout not).
  double server_cpu_ms = 0, component_cpu_ms = 0;
  rpsync::bench::KindTally kinds;
  bool roster_cached = false;
  Clock::time_point t0{};  // connect() was called
  bool ok = false;
  std::string why;
};

// One alice account: a client (reused across logins, as an application would) and, for the
// rpsync modes, a manager with an in-memory session store; gate_rv adds a roster cache.
class Session {
 public:
  Session(Mode mode, uint16_t port, Trace* trace, const Options& o)
      : mode_(mode), port_(port), trace_(trace), o_(o), trace_log_(trace) {
    if (o.strophe)
      strophe_ = std::make_unique<rpsync::bench::strophe::StropheAlice>(
          strophe_options(mode, port, trace != nullptr));
    build();
  }
  ~Session() { drop(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Pumps gloox until `done` or the deadline; false on timeout or an unexpected drop.
  template <class F>
  bool loop(F done, Millis timeout) {
    auto deadline = Clock::now() + timeout;
    for (int i = 0; i < 10000000 && Clock::now() < deadline; ++i) {
      if (done()) return true;
      if (ev_.disconnected) return false;
      gloox::ConnectionError e = client_->recv(1000);  // microseconds
      if (manager_) manager_->tick();
      if (e != gloox::ConnNoError) ev_.disconnected = true;
    }
    return done();
  }

  // A full login that ends with rpsync enabled (the state an rpsync client leaves with).
  void prepare() {
    std::string why;
    if (strophe_ && !strophe_->prepare(&why)) die(why);
    if (strophe_) return;
    ev_.reset();
    client_->roster_id.clear();
    if (!client_->connect(false)) die("alice: connect failed");
    if (!loop([&] { return ev_.enabled; }, Millis(60000))) die("alice: rpsync not enabled");
    leave();
  }

  // Measured reconnect of `contacts` online contacts.
  Run reconnect(rpsync::test::TcpProxy& proxy, std::size_t contacts, Millis timeout) {
    if (strophe_) return strophe_reconnect(proxy, contacts, timeout);
    Run r;
    if (o_.restart && mode_ != Mode::kPlain) build();
    ev_.reset();
    client_->kinds.clear();
    client_->stanzas = 0;
    client_->contact_presences = 0;
    client_->expect_presences = contacts;
    client_->all_presences_at.reset();
    client_->roster_at.reset();
    client_->verified_at.reset();
    client_->roster_id.clear();
    client_->sent_iqs.clear();
    bool pinged = false;
    proxy.reset();
    rpsync::bench::CpuMeter server_cpu(server_pid_), component_cpu(component_pid_);
    server_cpu.start();
    component_cpu.start();
    const auto t0 = Clock::now();
    r.t0 = t0;
    if (!client_->connect(false)) die("alice: connect failed");
    auto state_ready = [&] {
      switch (mode_) {
        case Mode::kPlain:
          return ev_.connected && client_->contact_presences >= contacts;
        case Mode::kNoGate:
          return ev_.synced && ev_.connected && client_->contact_presences >= contacts;
        case Mode::kGateRosterVer:
        case Mode::kGate:
          return ev_.synced && ev_.connected;
      }
      return false;
    };
    bool ok = loop(
        [&] {
          if (ev_.full_resync) return true;
          if (!pinged && state_ready()) {
            client_->xmppPing(gloox::JID(kHost), &ev_);
            pinged = true;
          }
          return ev_.pong;
        },
        timeout);
    r.ms = seconds_since(t0) * 1000;
    r.stanzas = static_cast<double>(client_->stanzas);
    r.presences = static_cast<double>(client_->contact_presences);
    if (client_->roster_at) r.roster_ms = ms_between(t0, *client_->roster_at);
    if (ev_.synced) r.synced_ms = ms_between(t0, ev_.synced_at);
    if (ev_.connected) r.presence_ms = ms_between(t0, ev_.connected_at);
    if (mode_ == Mode::kPlain && client_->all_presences_at)
      r.state_ms = ms_between(t0, *client_->all_presences_at);
    else if (mode_ != Mode::kPlain)
      r.state_ms = r.synced_ms;
    r.roster_bytes = static_cast<double>(client_->roster_stats().result_bytes);
    r.roster_cached = client_->roster_from_cache();
    r.ok = ok && ev_.pong && !ev_.full_resync;
    if (ev_.full_resync)
      r.why = "full resync: " + ev_.resync_reason;
    else if (!ok)
      r.why = "timeout or disconnect";
    // The marker's verification checkpoint is not part of "complete" (the ping is); wait a
    // little for it so its time can be reported.
    if (r.ok && gated(mode_)) {
      loop([&] { return client_->verified_at.has_value(); }, Millis(2000));
      if (client_->verified_at) r.verified_ms = ms_between(t0, *client_->verified_at);
    }
    // Bytes include the marker's verification: the state is not proven before it.
    r.bytes = static_cast<double>(proxy.down());
    // Work the reconnect left queued at "complete" (the server writing the user's own
    // presence to her contacts' sockets) is part of its cost: every mode gets the same
    // quiet tail before the CPU is read.
    loop([] { return false; }, kCpuTail);
    r.server_cpu_ms = server_cpu.elapsed();
    r.component_cpu_ms = component_cpu.elapsed();
    r.kinds = client_->kinds;
    leave();
    return r;
  }

  std::size_t items() const { return strophe_ ? strophe_items_ : ev_.items; }
  // The server's and the component's processes, for the CPU columns (0: not measured).
  void set_pids(pid_t server, pid_t component) {
    server_pid_ = server;
    component_pid_ = component;
  }

 private:
  // A new client (and manager) over the session's stores: what an application restart
  // gives. plain is gloox as shipped; the rpsync modes keep the client library's defaults
  // (its SCRAM key cache, kept in scram_cache_ across restarts) unless --no-scram-cache.
  void build() {
    drop();
    client_ = std::make_unique<Alice>(gloox::JID(std::string("alice@") + kHost + "/bench"),
                                      kPassword, port_);
    client_->setServer("127.0.0.1");
    client_->setTls(gloox::TLSDisabled);
    client_->setCompression(false);
    if (o_.sasl_plain) client_->setSASLMechanisms(gloox::SaslMechPlain);
    if (mode_ == Mode::kPlain) {  // gloox as shipped
      client_->set_skip_optional_session(false);
      client_->set_tcp_nodelay(false);
    }
    if (mode_ == Mode::kPlain || !o_.scram_cache)
      disable_scram_cache(*client_);
    else
      keep_scram_keys(*client_);
    client_->setPresence(gloox::Presence::Available, 0, "");
    client_->registerConnectionListener(&ev_);
    spy_ = std::make_unique<RosterIdSpy>(client_.get());
    client_->logInstance().registerLogHandler(gloox::LogLevelDebug, gloox::LogAreaXmlOutgoing,
                                              spy_.get());
    if (trace_)
      client_->logInstance().registerLogHandler(
          gloox::LogLevelDebug, gloox::LogAreaXmlIncoming | gloox::LogAreaXmlOutgoing, &trace_log_);
    if (mode_ == Mode::kGateRosterVer) client_->set_roster_cache(&roster_cache_);
    if (mode_ != Mode::kPlain) {
      rpsync::client::RpsyncOptions ro;
      ro.component = kComponent;
      ro.synced_marker = gated(mode_);
      // ejabberd answers probes from each contact's session, after its ping answer: with
      // 2000 contacts on a loaded machine 300 ms of quiet can come before the flood ends.
      ro.settle_quiet = o_.server == "ejabberd" ? Millis(1500) : Millis(300);
      manager_ = std::make_unique<rpsync::client::RpsyncManager>(*client_, &store_, &ev_, ro);
    }
  }
  void drop() {
    manager_.reset();
    if (client_) client_->logInstance().removeLogHandler(spy_.get());
    client_.reset();
  }
  template <class C>
  void keep_scram_keys(C& client) {
    if constexpr (requires { client.set_scram_cache(&scram_cache_); })
      client.set_scram_cache(&scram_cache_);
  }

  static rpsync::bench::strophe::DriverOptions strophe_options(Mode mode, uint16_t port,
                                                               bool trace) {
    using rpsync::bench::strophe::Kind;
    const Kind kinds[] = {Kind::kPlain, Kind::kNoGate, Kind::kGateRosterVer, Kind::kGate};
    return {kinds[static_cast<int>(mode)],
            port,
            std::string("alice@") + kHost + "/bench",
            kPassword,
            kComponent,
            trace};
  }
  Run strophe_reconnect(rpsync::test::TcpProxy& proxy, std::size_t contacts, Millis timeout) {
    proxy.reset();
    const auto t = strophe_->reconnect(contacts, timeout);
    Run r{.bytes = static_cast<double>(proxy.down()),
          .stanzas = static_cast<double>(t.stanzas),
          .ms = t.ms,
          .presences = static_cast<double>(t.presences),
          .roster_ms = t.roster_ms,
          .synced_ms = t.synced_ms,
          .presence_ms = t.presence_ms,
          .verified_ms = t.verified_ms,
          .state_ms = t.state_ms,
          .roster_bytes = static_cast<double>(t.roster_bytes),
          .kinds = {},
          .roster_cached = t.roster_cached,
          .t0 = t.t0,
          .ok = t.ok,
          .why = t.why};
    strophe_items_ = t.items;
    return r;
  }

  // Graceful logout (rpsync: final checkpoint first) and wait for the stream to end.
  void leave() {
    if (manager_)
      manager_->logout();
    else
      client_->disconnect();
    loop([&] { return ev_.disconnected; }, Millis(10000));
    ev_.disconnected = false;
  }

  Mode mode_;
  uint16_t port_;
  Trace* trace_;
  const Options& o_;
  pid_t server_pid_ = 0, component_pid_ = 0;
  Events ev_;
  TraceLog trace_log_;
  rpsync::client::MemorySessionStore store_;
  rpsync::client::MemoryRosterCache roster_cache_;
  rpsync::client::MemoryScramCache scram_cache_;
  std::unique_ptr<Alice> client_;
  std::unique_ptr<RosterIdSpy> spy_;
  std::unique_ptr<rpsync::client::RpsyncManager> manager_;
  std::unique_ptr<rpsync::bench::strophe::StropheAlice> strophe_;  // --client strophe
  std::size_t strophe_items_ = 0;
};

struct Row {
  int n = 0, percent = 0, k = 0, rounds = 0;
  Mode mode = Mode::kPlain;
  Run med;  // medians
  // Medians over the rounds of this mode's time / plain's time in the same round.
  double ms_ratio = 0, state_ratio = 0;
  // Server + component CPU per reconnect: the mean over the rounds (CPU time comes in
  // scheduler slices; the mean of several is steadier than their median), and its ratio to
  // plain's mean of the same rounds.
  double server_cpu_ms = 0, component_cpu_ms = 0, cpu_ratio = 0;
  std::vector<rpsync::bench::KindRow> kinds;  // k = 0 rows: bytes by element kind
  std::size_t failed = 0, wrong_items = 0, roster_cached = 0;
};

std::vector<int> parse_list(const std::string& s, int lo, int hi) {
  std::vector<int> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    int v = std::atoi(part.c_str());
    if (v < lo || v > hi)
      die("value " + part + " out of " + std::to_string(lo) + ".." + std::to_string(hi));
    out.push_back(v);
  }
  if (out.empty()) die("empty list");
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--contacts")
      o.contacts = parse_list(value(), 10, 5000);
    else if (a == "--percent")
      o.percents = parse_list(value(), 0, 100);
    else if (a == "--rounds")
      o.rounds = parse_list(value(), 1, 50).front();
    else if (a == "--rounds-large")
      o.rounds_large = parse_list(value(), 1, 50).front();
    else if (a == "--warmup")
      o.warmup = parse_list(value(), 0, 20).front();
    else if (a == "--csv")
      o.csv = value();
    else if (a == "--nagle")
      o.nagle = true;
    else if (a == "--no-nagle")
      o.nagle = false;
    else if (a == "--gate-without-rosterver")
      o.gate_without_rosterver = true;
    else if (a == "--trace")
      o.trace = true;
    else if (a == "--sasl-plain")
      o.sasl_plain = true;
    else if (a == "--no-scram-cache")
      o.scram_cache = false;
    else if (a == "--one-way")
      o.one_way = true;
    else if (a == "--no-restart")
      o.restart = false;
    else if (a == "--storm") {
      const std::string v = value();
      const auto x = v.find('x');
      if (x == std::string::npos) die("--storm needs MxC, e.g. 50x200");
      o.storm_clients = parse_list(v.substr(0, x), 1, 500).front();
      o.storm_contacts = parse_list(v.substr(x + 1), 1, 2000).front();
    } else if (a == "--storm-rounds")
      o.storm_rounds = parse_list(value(), 1, 20).front();
    else if (a == "--storm-users")
      o.storm_users = parse_list(value(), 1, 5000).front();
    else if (a == "--restart-changes") {
      const std::string v = value();
      if (v != "both" && v != "during") die("--restart-changes is both or during, not " + v);
      o.restart_change_before = v == "both";
    } else if (a == "--keep-logs")
      o.keep_logs = value();
    else if (a == "--restart") {
      o.restart_mode = value();
      if (o.restart_mode != "term" && o.restart_mode != "kill")
        die("--restart is term or kill, not " + o.restart_mode);
    } else if (a == "--client") {
      const std::string c = value();
      if (c != "gloox" && c != "strophe") die("--client is gloox or strophe, not " + c);
      o.strophe = c == "strophe";
    } else if (a == "--max-minutes")
      o.max_minutes = parse_list(value(), 1, 600).front();
    else if (a == "--component-bin")
      o.component_bin = value();
    else if (a == "--gate-dir")
      o.gate_dir = value();
    else if (a == "--server")
      o.server = value();
    else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: rpsync_reconnect_bench [--contacts 50,500,2000] [--percent 0,5,50]\n"
          "       [--rounds 5] [--rounds-large 3] [--warmup 2] [--nagle]\n"
          "       [--gate-without-rosterver]\n"
          "       [--trace] [--sasl-plain] [--no-scram-cache] [--one-way] [--no-restart]\n"
          "       [--max-minutes 45] [--storm MxC [--storm-users U] [--restart term|kill]]\n"
          "       [--csv PATH] [--client gloox|strophe]\n"
          "       [--component-bin PATH] [--gate-dir DIR] [--server prosody|ejabberd]\n"
          "  --server        prosody (default) or ejabberd 23.01 with mod_rpsync_gate and\n"
          "                  roster versioning (bench/reconnect/bench_server.h)\n"
          "  --contacts      list, one Prosody per N; medians of --rounds reconnects per row,\n"
          "                  --rounds-large for N >= %d, after --warmup unmeasured rounds\n"
          "  --nagle         leave Prosody's default (Nagle on); default: nagle = false as in\n"
          "                  examples/prosody/rpsync.cfg.lua\n"
          "  --gate-without-rosterver  also measure the gate without a roster cache\n"
          "  --trace         print the wire timeline of each mode's first reconnect\n"
          "  --sasl-plain    every mode authenticates with SASL PLAIN instead of gloox's\n"
          "                  default SCRAM-SHA-1 (whose key derivation costs ~35 ms here)\n"
          "  --no-scram-cache  the rpsync modes too run gloox's own SCRAM (plain always does)\n"
          "  --one-way       contacts do not see alice (subscription to/from instead of both),\n"
          "                  so Prosody does not broadcast her presence: an experiment\n"
          "  --no-restart    the rpsync modes reuse one client and manager for every\n"
          "                  reconnect; default: a new one each time over the same stores\n"
          "                  (session, roster cache, SCRAM keys), as after an app restart\n"
          "  --storm MxC     instead of the matrix: M clients with the same C online contacts\n"
          "                  reconnect at once, plain vs gate + roster ver (--storm-rounds 3)\n"
          "  --storm-users U U accounts (default M) reconnect in consecutive waves of M\n"
          "  --restart term|kill  storm only: before each rpsync storm the component is\n"
          "                  stopped (SIGTERM / SIGKILL) and started on the same store while\n"
          "                  a tenth of the contacts change, another tenth while it is down\n"
          "  --restart-changes both|during  contacts change before the stop and while the\n"
          "                  component is down (both, default) or only while it is down\n"
          "  --keep-logs DIR storm only: copies the component's and Prosody's logs there\n"
          "  --client        alice's library: gloox (client_ext, default) or strophe\n"
          "                  (libstrophe + librpsync-strophe, bench/reconnect/strophe_driver.h)\n"
          "  --max-minutes   watchdog for the whole run (exit 4)\n",
          kLargeN);
      std::exit(0);
    } else
      die("unknown argument " + a + " (see --help)");
  }
  return o;
}

std::vector<Row> bench_n(const Options& o, int n) {
  const auto setup0 = Clock::now();
  std::string why;
  auto server = rpsync::bench::make_bench_server(o.server, kComponent, kSecret, &why);
  if (!server) die(why);
  const std::string alice = std::string("alice@") + kHost;
  const std::string watcher = std::string("w0@") + kHost;
  server->add_user("alice", kHost, kPassword);
  server->add_user("w0", kHost, kPassword);
  for (int i = 0; i < n; ++i) {
    const std::string bare = contact_name(i) + "@" + kHost;
    server->add_user(contact_name(i), kHost, kPassword);
    // --one-way: alice sees her contacts, they do not see her (no broadcast of her presence).
    server->add_roster_item(alice, bare, o.one_way ? "to" : "both");
    server->add_roster_item(bare, alice, o.one_way ? "from" : "both");
    server->add_roster_item(bare, watcher, "from");
    server->add_roster_item(watcher, bare, "to");
  }
  if (auto* prosody = server->prosody()) patch_prosody_config(*prosody, o);
  if (!server->launch()) die(std::string(server->name()) + " did not start:\n" + server->log());
  const fs::path work = fs::path(server->dir()) / "component";
  fs::create_directories(work);
  ComponentSpec spec;
  spec.component_jid = kComponent;
  spec.secret = kSecret;
  spec.domains = {kHost};
  spec.binary = o.component_bin;
  spec.extra_args = {"--log-level", "info", "--requests-per-minute", "100000"};
  ComponentProcess component(work.string(), server->component_port(), spec);
  if (!component.start(&why)) die(why);
  if (!wait_connected(component, server->component_ready_marker(), Millis(15000)))
    die("component did not connect with privileges:\n" + component.log());

  LowFds low_fds(64);
  auto w0 = TestClient::login(server->c2s_port(), "w0", kHost, kPassword, "watch", &why);
  if (!w0) die("watcher: " + why);
  w0->send_presence();
  std::vector<std::unique_ptr<TestClient>> contacts;
  for (int i = 0; i < n; ++i) {
    auto c = TestClient::login(server->c2s_port(), contact_name(i), kHost, kPassword, "phone", &why,
                               Millis(15000));
    if (!c) die("login of " + contact_name(i) + ": " + why);
    c->send(contact_presence("initial status of " + contact_name(i) + ", back soon", i));
    contacts.push_back(std::move(c));
  }
  // The watcher sees every contact come online; then the component has them too.
  int online = 0;
  for (int i = 0; i < 4 * n + 100 && online < n; ++i) {
    auto e = w0->next(Millis(2000));
    if (!e) break;
    if (e->name() == "presence" && !e->attr("type") && e->attr("from") &&
        !e->attr("from")->starts_with("w0@"))
      ++online;
  }
  if (online < n) die("watcher saw " + std::to_string(online) + " of " + std::to_string(n));
  if (!ping(*w0, kComponent, "settle")) die("component did not answer a ping");
  progress("N=" + std::to_string(n) + ": " + server->name() + " (gate loaded, nagle " +
           (o.nagle ? "on" : "off") + ") + component + contacts up in " +
           std::to_string(static_cast<int>(seconds_since(setup0))) + " s");

  low_fds.release();

  Trace trace;
  // Exact wire bytes server -> client; with --trace every read is also a trace line.
  rpsync::test::TcpProxy::Observer wire;
  if (o.trace)
    wire = [&trace](bool down, std::size_t bytes) {
      trace.add(std::string(down ? "wire  S->C " : "wire  C->S ") + std::to_string(bytes) +
                " bytes");
    };
  std::string proxy_why;
  auto proxy_ptr = rpsync::test::TcpProxy::start(server->c2s_port(), &proxy_why, wire);
  if (!proxy_ptr) die(proxy_why);
  rpsync::test::TcpProxy& proxy = *proxy_ptr;
  int change_no = 0, offset = 0;
  // k contacts change status; the watcher sees all of them and a ping to the component
  // after that means the component has them too (it answers in stream order).
  auto change = [&](int k) {
    const std::string tag = "X" + std::to_string(++change_no) + " ";
    for (int j = 0; j < k; ++j) {
      int i = (offset + j) % n;
      contacts[static_cast<std::size_t>(i)]->send(
          contact_presence(tag + "new status of " + contact_name(i), i + change_no));
    }
    offset += k;
    int seen = 0;
    auto deadline = Clock::now() + Millis(60000);
    for (int i = 0; i < 4 * k + 100 && seen < k && Clock::now() < deadline; ++i) {
      auto e = w0->next(Millis(500));
      if (!e) continue;
      auto st = e->child_text("status");
      if (e->name() == "presence" && st && st->starts_with(tag)) ++seen;
    }
    if (seen != k) die("watcher missed changes");
    if (!ping(*w0, kComponent, "c" + std::to_string(change_no))) die("component ping failed");
  };

  // After alice left, Prosody still broadcasts her unavailable presence to N contacts and
  // the component digests it; without waiting, that work would be measured as part of the
  // next mode's login (121 ms of a 462 ms gate reconnect at N=500 in a --trace run). A
  // contact seeing the unavailable means the broadcast (one synchronous call in Prosody)
  // ran; pings to Prosody and to the component, answered in order, mean both are idle.
  const std::string alice_full = alice + "/bench";
  int quiesce_no = 0;
  auto quiesce = [&] {
    const std::string id = "q" + std::to_string(++quiesce_no);
    if (!o.one_way) {
      auto gone = contacts.back()->wait_for(
          [&](const Element& e) {
            return e.name() == "presence" && e.attr("type") == "unavailable" &&
                   e.attr("from") == alice_full;
          },
          Millis(10000));
      if (!gone) progress("quiesce: a contact did not see alice leave within 10 s");
    }
    if (!ping(*w0, kHost, id + "s") || !ping(*w0, kComponent, id + "c"))
      die("quiesce: ping failed");
  };

  // Every rpsync session is logged out whenever contacts change, and all modes reconnect
  // to the same contact state (one change, then each mode in turn).
  std::vector<Mode> modes = {Mode::kPlain, Mode::kNoGate, Mode::kGateRosterVer};
  if (o.gate_without_rosterver) modes.push_back(Mode::kGate);
  std::vector<std::unique_ptr<Session>> sessions(modes.size());
  for (std::size_t m = 1; m < modes.size(); ++m) {
    sessions[m] = std::make_unique<Session>(modes[m], proxy.port(), o.trace ? &trace : nullptr, o);
    sessions[m]->set_pids(server->pid(), component.pid());
    sessions[m]->prepare();
    quiesce();
  }
  auto run_mode = [&](std::size_t m, Trace* tracing, Millis timeout) {
    if (modes[m] != Mode::kPlain)
      return sessions[m]->reconnect(proxy, static_cast<std::size_t>(n), timeout);
    Session plain(Mode::kPlain, proxy.port(), tracing, o);
    plain.set_pids(server->pid(), component.pid());
    return plain.reconnect(proxy, static_cast<std::size_t>(n), timeout);
  };
  const int rounds = n >= kLargeN ? o.rounds_large : o.rounds;
  // Generous for 2000 contacts on a loaded machine, still bounded.
  const Millis timeout(30000 + 30 * n);
  // Unmeasured rounds first: right after the setup the logins were consistently slower
  // (the first k block's roster arrived 20-45 ms later than the next block's at N=500),
  // as if Prosody were still paying for the setup's garbage.
  for (int w = 0; w < o.warmup; ++w) {
    for (std::size_t m = 0; m < modes.size(); ++m) {
      Run run = run_mode(m, nullptr, timeout);
      if (!run.ok) die(std::string("warm-up: ") + mode_name(modes[m]) + ": " + run.why);
      quiesce();
    }
  }
  std::vector<bool> traced(modes.size(), false);
  std::vector<Row> rows;
  for (int pct : o.percents) {
    const int k = n * pct / 100;
    std::vector<Row> row(modes.size());
    struct Samples {
      std::vector<double> b, st, ms, pr, ro, sy, ps, ve, rb, sm;
      std::vector<double> ms_ratio, state_ratio;  // to plain's reconnect of the same round
      std::vector<double> scpu, ccpu;
      std::vector<rpsync::bench::KindTally> kinds;
    };
    std::vector<Samples> s(modes.size());
    for (int r = 0; r < rounds; ++r) {
      change(k);
      std::vector<std::optional<Run>> round(modes.size());
      for (std::size_t m = 0; m < modes.size(); ++m) {
        const bool tracing = o.trace && !traced[m];
        if (tracing) trace.start();
        Run run = run_mode(m, tracing ? &trace : nullptr, timeout);
        if (modes[m] != Mode::kPlain && run.ok &&
            sessions[m]->items() != static_cast<std::size_t>(k))
          ++row[m].wrong_items;
        quiesce();
        if (tracing) {
          traced[m] = true;
          trace.dump(std::string(mode_name(modes[m])) + ", N=" + std::to_string(n) +
                         ", k=" + std::to_string(k) + " (from connect(); complete at " +
                         std::to_string(run.ms) + " ms)",
                     run.t0);
        }
        if (!run.ok) {
          ++row[m].failed;
          progress(std::string(mode_name(modes[m])) + " k=" + std::to_string(k) + ": " + run.why);
          continue;
        }
        if (run.roster_cached) ++row[m].roster_cached;
        round[m] = run;
        auto& x = s[m];
        x.b.push_back(run.bytes);
        x.st.push_back(run.stanzas);
        x.ms.push_back(run.ms);
        x.pr.push_back(run.presences);
        x.ro.push_back(run.roster_ms);
        x.sy.push_back(run.synced_ms);
        x.ps.push_back(run.presence_ms);
        x.ve.push_back(run.verified_ms);
        x.rb.push_back(run.roster_bytes);
        x.sm.push_back(run.state_ms);
        x.scpu.push_back(run.server_cpu_ms);
        x.ccpu.push_back(run.component_cpu_ms);
        x.kinds.push_back(run.kinds);
      }
      // The machine's load drifts between rounds; a mode and plain of the same round
      // (seconds apart) saw about the same load.
      if (round[0] && round[0]->ms > 0 && round[0]->state_ms > 0) {
        for (std::size_t m = 0; m < modes.size(); ++m) {
          if (!round[m]) continue;
          s[m].ms_ratio.push_back(round[m]->ms / round[0]->ms);
          s[m].state_ratio.push_back(round[m]->state_ms / round[0]->state_ms);
        }
      }
    }
    for (std::size_t m = 0; m < modes.size(); ++m) {
      Row& w = row[m];
      w.n = n;
      w.percent = pct;
      w.k = k;
      w.rounds = rounds;
      w.mode = modes[m];
      w.med.bytes = median(s[m].b);
      w.med.stanzas = median(s[m].st);
      w.med.ms = median(s[m].ms);
      w.med.presences = median(s[m].pr);
      w.med.roster_ms = median(s[m].ro);
      w.med.synced_ms = median(s[m].sy);
      w.med.presence_ms = median(s[m].ps);
      w.med.verified_ms = median(s[m].ve);
      w.med.roster_bytes = median(s[m].rb);
      w.med.state_ms = median(s[m].sm);
      w.ms_ratio = median(s[m].ms_ratio);
      w.state_ratio = median(s[m].state_ratio);
      w.server_cpu_ms = mean(s[m].scpu);
      w.component_cpu_ms = mean(s[m].ccpu);
      const double plain_cpu = mean(s[0].scpu) + mean(s[0].ccpu);
      w.cpu_ratio = plain_cpu > 0 ? (w.server_cpu_ms + w.component_cpu_ms) / plain_cpu : 0;
      if (pct == 0) w.kinds = rpsync::bench::median_kinds(s[m].kinds, s[m].b);
      rows.push_back(w);
      progress("N=" + std::to_string(n) + " " + mode_name(modes[m]) + " k=" + std::to_string(k) +
               ": " + std::to_string(static_cast<long>(w.med.bytes)) + " bytes, " +
               std::to_string(w.med.ms) + " ms");
    }
  }
  for (auto& c : contacts) c->abort();
  w0->abort();
  component.terminate();
  return rows;
}

}  // namespace

void print_storm(const Options& o, const std::vector<rpsync::bench::StormRow>& rows, int m, int c) {
  const int users = o.storm_users > 0 ? o.storm_users : m;
  std::printf(
      "\nreconnect storm: %d users x %d online contacts reconnect, %d at once; Prosody 0.12, "
      "Nagle %s; component restart before each rpsync storm: %s%s; medians of %d storms per "
      "mode\nbytes: all clients (serialised elements); cpu: over the storm; state/complete: "
      "until the last client held its state / got its ping back; synced/fell back: rpsync "
      "reconnects that were a delta / a full login, all storms\n\n",
      users, c, m, o.nagle ? "on" : "off", o.restart_mode.empty() ? "no" : o.restart_mode.c_str(),
      o.restart_mode.empty()
          ? ""
          : (o.restart_change_before ? ", changes before and during" : ", changes during only"),
      o.storm_rounds);
  std::printf("%-8s %10s %9s %9s %9s %7s %9s %7s %9s %6s %7s %6s\n", "mode", "bytes", "srv cpu",
              "cmp cpu", "cpu/pl", "state", "st/pl", "compl", "co/pl", "failed", "synced",
              "fellbk");
  std::ofstream csv(o.csv + ".storm.csv");
  csv << "clients,contacts,mode,bytes,server_cpu_ms,component_cpu_ms,cpu_ratio,state_ms,"
         "state_ratio,complete_ms,complete_ratio,bytes_ratio,failed,rounds,nagle,users,"
         "restart,synced,fell_back\n";
  const auto& p = rows.front();
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  for (const auto& r : rows) {
    const double cpu =
        ratio(r.server_cpu_ms + r.component_cpu_ms, p.server_cpu_ms + p.component_cpu_ms);
    std::printf("%-8s %10.0f %9.1f %9.1f %9.3f %7.1f %9.3f %7.1f %9.3f %6zu %7zu %6zu\n",
                r.mode.c_str(), r.bytes, r.server_cpu_ms, r.component_cpu_ms, cpu, r.state_ms,
                ratio(r.state_ms, p.state_ms), r.complete_ms, ratio(r.complete_ms, p.complete_ms),
                r.failed, r.synced, r.fell_back);
    csv << m << "," << c << "," << r.mode << "," << r.bytes << "," << r.server_cpu_ms << ","
        << r.component_cpu_ms << "," << cpu << "," << r.state_ms << ","
        << ratio(r.state_ms, p.state_ms) << "," << r.complete_ms << ","
        << ratio(r.complete_ms, p.complete_ms) << "," << ratio(r.bytes, p.bytes) << "," << r.failed
        << "," << r.rounds << "," << (o.nagle ? 1 : 0) << "," << users << ","
        << (o.restart_mode.empty()    ? "no"
            : o.restart_change_before ? o.restart_mode
                                      : o.restart_mode + "-during")
        << "," << r.synced << "," << r.fell_back << "\n";
  }
}

// The k = 0 rows' bytes by element kind, printed and written next to the CSV
// (<csv>.kinds.csv: n, mode, kind, median bytes, median count).
void print_kinds(const std::vector<Row>& rows, const std::string& csv_path) {
  std::ofstream csv(csv_path + ".kinds.csv");
  csv << "n,mode,kind,bytes,count\n";
  std::printf("\nbytes server -> client by element kind, k = 0 (medians; gloox's serialisation)\n");
  for (const auto& row : rows) {
    if (row.kinds.empty()) continue;
    std::printf("  N=%d %s: %.0f bytes\n", row.n, mode_name(row.mode), row.med.bytes);
    for (const auto& k : row.kinds) {
      std::printf("    %-56s %8.0f B %6.0f\n", k.kind.c_str(), k.bytes, k.count);
      csv << row.n << "," << mode_key(row.mode) << ",\"" << k.kind << "\"," << k.bytes << ","
          << k.count << "\n";
    }
  }
}

// --storm's Prosody: U users s000.. (s0000.. from 1,000) sharing C contacts ('both').
std::unique_ptr<ProsodyServer> storm_server(const Options& o, int u, int c,
                                            std::vector<std::string>& users) {
  rpsync::test::ProsodyOptions po;
  po.component_jid = kComponent;
  po.component_secret = kSecret;
  std::string why;
  auto server = ProsodyServer::create(po, &why);
  if (!server) die(why);
  std::vector<std::string> user_jids, contact_jids;
  for (int i = 0; i < u; ++i) {
    users.push_back("s" + rpsync::bench::contact_name(i, u > 1000 ? 4 : 3));
    user_jids.push_back(users.back() + "@" + kHost);
    server->add_user(users.back(), kHost, kPassword);
  }
  for (int i = 0; i < c; ++i) {
    contact_jids.push_back(contact_name(i) + "@" + kHost);
    server->add_user(contact_name(i), kHost, kPassword);
    server->add_roster_items(contact_jids.back(), user_jids, "both");
  }
  for (const auto& jid : user_jids) server->add_roster_items(jid, contact_jids, "both");
  patch_prosody_config(*server, o);
  if (!server->launch()) die("prosody did not start:\n" + server->log());
  return server;
}

// --storm's contacts, online with a presence each.
std::vector<std::unique_ptr<TestClient>> storm_contacts(const ProsodyServer& server, int c) {
  std::vector<std::unique_ptr<TestClient>> contacts;
  std::string why;
  for (int i = 0; i < c; ++i) {
    auto t = TestClient::login(server.c2s_port(), contact_name(i), kHost, kPassword, "phone", &why,
                               Millis(15000));
    if (!t) die("login of " + contact_name(i) + ": " + why);
    t->send(contact_presence("status of " + contact_name(i), i));
    contacts.push_back(std::move(t));
  }
  return contacts;
}

// --storm: the server, the component, and run_storm(); prints one line per mode and
// writes the CSV. --restart: the component restarts before every rpsync storm.
int bench_storm(const Options& o) {
  const int m = o.storm_clients, c = o.storm_contacts;
  const int u = o.storm_users > 0 ? o.storm_users : m;
  ensure_fd_limit(m + c);
  std::vector<std::string> users;
  auto server = storm_server(o, u, c, users);
  const fs::path work = fs::path(server->dir()) / "component";
  fs::create_directories(work);
  ComponentSpec spec;
  spec.component_jid = kComponent;
  spec.secret = kSecret;
  spec.domains = {kHost};
  spec.binary = o.component_bin;
  spec.extra_args = {"--log-level", "info", "--requests-per-minute", "100000"};
  ComponentProcess component(work.string(), server->component_port(), spec);
  std::string why;
  if (!component.start(&why)) die(why);
  if (!wait_connected(component, "connected privileged=yes", Millis(15000)))
    die("component did not connect:\n" + component.log());
  LowFds low_fds(4 * m + 64);  // gloox's select(): the storm clients' sockets stay below 1024
  auto contacts = storm_contacts(*server, c);
  low_fds.release();
  // Each contact's presence was processed once its own ping returns (one connection,
  // in order); then the component has seen them all once it answers a ping too.
  auto settle = [&] {
    for (int i = 0; i < c; ++i)
      if (!ping(*contacts[static_cast<std::size_t>(i)], kHost, "s" + std::to_string(i)))
        die("settle: ping failed");
    if (!ping(*contacts[0], kComponent, "sc")) die("settle: component ping failed");
  };
  settle();
  rpsync::bench::StormSetup s;
  s.c2s_port = server->c2s_port();
  s.host = kHost;
  s.component = kComponent;
  s.password = kPassword;
  s.users = users;
  s.contacts = static_cast<std::size_t>(c);
  s.server_pid = server->pid();
  s.component_pid = component.pid();
  s.rounds = o.storm_rounds;
  s.wave = static_cast<std::size_t>(m);
  if (!o.restart_mode.empty())
    s.before_rpsync =
        rpsync::bench::component_restarter({&component, &contacts, kComponent, kHost,
                                            o.restart_mode == "kill", o.restart_change_before});
  progress("storm: " + std::to_string(u) + " users x " + std::to_string(c) + " contacts up");
  const auto rows = rpsync::bench::run_storm(s, settle);
  print_storm(o, rows, m, c);
  bool bad = false;  // after a restart, a full login is an outcome, not a failure
  for (const auto& r : rows) bad = bad || r.failed > 0 || (o.restart_mode.empty() && r.fell_back);
  for (auto& t : contacts) t->abort();
  component.terminate();
  if (!o.keep_logs.empty()) {
    fs::create_directories(o.keep_logs);
    std::ofstream(fs::path(o.keep_logs) / "component.log") << component.log();
    std::ofstream(fs::path(o.keep_logs) / "prosody.log") << server->log();
  }
  return bad ? 3 : 0;
}

const char* sasl_name(const Options& o) {
  if (o.strophe) return "libstrophe's choice (SCRAM-SHA-1 on this Prosody), every mode";
  if (o.sasl_plain) return "PLAIN";
  if (client_has_scram_cache() && o.scram_cache)
    return "SCRAM-SHA-1 (plain: gloox's; rpsync modes: client_ext's with cached keys)";
  return "SCRAM-SHA-1 (gloox's, every mode)";
}
const char* sasl_key(const Options& o) {
  if (o.strophe) return "strophe-scram";
  if (o.sasl_plain) return "plain";
  return client_has_scram_cache() && o.scram_cache ? "scram-cached" : "scram";
}

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const auto wall0 = Clock::now();
  ensure_fd_limit(*std::max_element(o.contacts.begin(), o.contacts.end()));
  // The whole run is bounded: children (Prosody, component) die with us (PDEATHSIG).
  std::thread([minutes = o.max_minutes] {
    std::this_thread::sleep_for(std::chrono::minutes(minutes));
    std::fprintf(stderr, "rpsync_reconnect_bench: watchdog: run exceeded %d minutes\n", minutes);
    std::_Exit(4);
  }).detach();
  if (o.storm_clients > 0) return bench_storm(o);
  std::vector<Row> rows;
  for (int n : o.contacts) {
    auto r = bench_n(o, n);
    rows.insert(rows.end(), r.begin(), r.end());
  }

  // Rows come in blocks, plain first (bench_n), so a row's plain is the last one before it.
  auto plain_of = [&](const Row& row) -> const Row* {
    const Row* plain = nullptr;
    for (const auto& p : rows) {
      if (p.mode == Mode::kPlain) plain = &p;
      if (&p == &row) break;
    }
    return plain;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::printf(
      "\nrpsync reconnect benchmark: %s + rpsync-component + mod_rpsync_gate on "
      "loopback, Nagle %s, SASL %s, median of %d reconnects per row (%d for N >= %d)\n"
      "bytes, stanzas, ms: from TCP connect to 'presence state complete' (state held, initial\n"
      "presence processed, a ping returned); state ms: to the moment the client holds every\n"
      "contact's presence (plain: the Nth arrived; rpsync: delta applied and verified)\n"
      "bytes/pl: ratio of the medians; ms/pl, st/pl: median of the per-round ratios to the\n"
      "plain reconnect of the same round\n\n",
      o.server == "ejabberd" ? "ejabberd 23.01" : "Prosody 0.12",
      o.server == "ejabberd" ? "as configured by ejabberd"
      : o.nagle              ? "on (Prosody default)"
                             : "off (network_settings = { nagle = false })",
      sasl_name(o), o.rounds, o.rounds_large, kLargeN);
  std::printf(
      "%5s %4s %5s %-19s %8s %7s %5s %7s %8s %6s %7s %6s %7s %7s %7s %7s %7s %7s %7s %6s %6s "
      "%4s %4s %4s\n",
      "N", "k%", "k", "mode", "bytes", "stanzas", "pres", "ms", "bytes/pl", "ms/pl", "state",
      "st/pl", "rost ms", "sync ms", "pres ms", "veri ms", "rost B", "srv cpu", "cmp cpu", "cpu/pl",
      "cached", "fail", "wrng", "rnds");
  std::ofstream csv(o.csv);
  csv << "n,percent,k,mode,bytes,stanzas,contact_presences,ms,bytes_ratio,ms_ratio,"
         "stanzas_ratio,state_ms,state_ratio,roster_ms,synced_ms,presence_ms,verified_ms,"
         "roster_bytes,roster_cached,rounds,failed,wrong_items,nagle,sasl,server_cpu_ms,"
         "component_cpu_ms,cpu_ratio\n";
  bool bad = false;
  for (const auto& row : rows) {
    const Row* p = plain_of(row);
    const double br = p ? ratio(row.med.bytes, p->med.bytes) : 0;
    const double mr = row.ms_ratio;
    const double sr = p ? ratio(row.med.stanzas, p->med.stanzas) : 0;
    const double tr = row.state_ratio;
    std::printf(
        "%5d %4d %5d %-19s %8.0f %7.0f %5.0f %7.1f %8.4f %6.3f %7.1f %6.3f %7.1f %7.1f %7.1f "
        "%7.1f %7.0f %7.1f %7.1f %6.3f %6zu %4zu %4zu %4d\n",
        row.n, row.percent, row.k, mode_name(row.mode), row.med.bytes, row.med.stanzas,
        row.med.presences, row.med.ms, br, mr, row.med.state_ms, tr, row.med.roster_ms,
        row.med.synced_ms, row.med.presence_ms, row.med.verified_ms, row.med.roster_bytes,
        row.server_cpu_ms, row.component_cpu_ms, row.cpu_ratio, row.roster_cached, row.failed,
        row.wrong_items, row.rounds);
    csv << row.n << "," << row.percent << "," << row.k << "," << mode_key(row.mode) << ","
        << row.med.bytes << "," << row.med.stanzas << "," << row.med.presences << "," << row.med.ms
        << "," << br << "," << mr << "," << sr << "," << row.med.state_ms << "," << tr << ","
        << row.med.roster_ms << "," << row.med.synced_ms << "," << row.med.presence_ms << ","
        << row.med.verified_ms << "," << row.med.roster_bytes << "," << row.roster_cached << ","
        << row.rounds << "," << row.failed << "," << row.wrong_items << "," << (o.nagle ? 1 : 0)
        << "," << sasl_key(o) << "," << row.server_cpu_ms << "," << row.component_cpu_ms << ","
        << row.cpu_ratio << "\n";
    if (row.failed || row.wrong_items) bad = true;
  }
  print_kinds(rows, o.csv);
  std::printf("\nwall time %.1f s; CSV: %s\n", seconds_since(wall0), o.csv.c_str());
  return bad ? 3 : 0;
}
