// SPDX-License-Identifier: MIT
// rpsync_component_bench: the component against a real Prosody 0.12 on loopback.
//
// Part 1, ingest: `contacts` users each send `changes` presence changes as fast as one
// sender thread can write them; `watchers` users who have every contact in their roster
// count what Prosody delivers. Run once on a Prosody without privileged entities (pure
// routing) and once with rpsync-component attached (Prosody forwards one copy of every
// broadcast to it; docs/architecture.md). The component's progress is timed with a ping sent after
// the watchers saw everything (the component answers in stream order) and checked with the
// `presence_in=` counter of its `app: stats.service` log line; CPU time of every process
// comes from /proc.
// Part 2, sync: alice with every contact online (caps + status) does a full login (the
// presence flood), enables rpsync, then for k changed contacts (0, 1 %, 10 %) drops her
// connection, reconnects and times <sync/> -> <delta/> at the client. Part 2 runs once per
// roster-cache mode: the component with its roster cache on, then restarted with
// --roster-cache 0 (every sync fetches the full roster, as before the cache); Prosody loads
// mod_rpsync_gate (plugin/prosody) from the source tree, which versions the component's
// roster gets, unless --no-gate.
//
// Everything is bounded: each wait has a deadline, each loop a count.
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
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/figures.h"
#include "bench/common/presence.h"
#include "bench/common/text.h"
#include "bench/common/timing.h"
#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/harness/child_process.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/harness/util.h"

namespace {

namespace fs = std::filesystem;
using rpsync::Status;
using rpsync::test::ChildProcess;
using rpsync::test::ProsodyServer;
using rpsync::test::TestClient;
using rpsync::xml::Element;
namespace ns = rpsync::ns;
using rpsync::bench::Clock;
using rpsync::bench::contact_presence;
using rpsync::bench::median_of;
using rpsync::bench::percentile;
using rpsync::bench::ping;
using rpsync::bench::progress;
using rpsync::bench::replace_all;
using rpsync::bench::seconds_since;
using Millis = std::chrono::milliseconds;

constexpr const char* kHost = "example.test";
constexpr const char* kComponent = "rpsync.example.test";
constexpr const char* kSecret = "bench-secret";
constexpr const char* kPassword = "pw";

struct Options {
  int contacts = 500;
  int watchers = 4;
  int changes = 10;   // presence changes per contact per burst
  int bursts = 3;     // per phase; the median is reported
  int rounds = 20;    // sync rounds per k
  bool nagle = true;  // Prosody's default; --no-nagle sets network_settings.nagle = false
  bool gate = true;   // load mod_rpsync_gate on the VirtualHost; --no-gate: mod_privilege only
  std::vector<bool> roster_cache{true, false};  // part 2 phases, --roster-cache on,off
  std::string csv = std::string(RPSYNC_BENCH_OUT_DIR) + "/bench_component.csv";
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_component_bench: %s\n", why.c_str());
  std::exit(1);
}

// user + system CPU seconds of a process, from /proc/<pid>/stat (fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = all.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(all.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::string read_text(const fs::path& p) {
  return rpsync::test::util::read_file(p);
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// The harness's config logs at debug level into a file, which would make Prosody measure
// its own logging; `privileged` false drops the privileged_entities line (pure routing);
// `gate` loads mod_rpsync_gate from the source tree on every VirtualHost.
void patch_prosody_config(const ProsodyServer& server, const std::string& original, bool privileged,
                          bool nagle, bool gate) {
  std::string cfg = replace_all(original, "log = { debug = ", "log = { warn = ");
  if (!nagle) cfg = "network_settings = { nagle = false }\n" + cfg;
  if (gate) {
    cfg = "plugin_paths = { \"" RPSYNC_GATE_PLUGIN_DIR "\" }\n" + cfg;
    std::string out;
    std::istringstream lines(cfg);
    for (std::string line; std::getline(lines, line);) {
      out += line + "\n";
      if (line.rfind("VirtualHost ", 0) == 0) out += "  modules_enabled = { \"rpsync_gate\" }\n";
    }
    cfg = out;
  }
  if (!privileged) {
    std::string out;
    std::istringstream lines(cfg);
    for (std::string line; std::getline(lines, line);)
      if (line.find("privileged_entities") == std::string::npos) out += line + "\n";
    cfg = out;
  }
  write_text(fs::path(server.dir()) / "prosody.cfg.lua", cfg);
}

pid_t prosody_pid(const ProsodyServer& server) {
  auto deadline = Clock::now() + Millis(5000);
  while (Clock::now() < deadline) {
    std::string text = read_text(fs::path(server.dir()) / "prosody.pid");
    if (!text.empty()) return static_cast<pid_t>(std::stol(text));
    std::this_thread::sleep_for(Millis(20));
  }
  die("prosody wrote no pid file");
}

// rpsync-component as a child process logging to a file.
class Component {
 public:
  Component(const ProsodyServer& server, const fs::path& dir, bool roster_cache)
      : log_(dir / "component.log") {
    std::vector<std::string> args = {
        RPSYNC_COMPONENT_BIN,
        "--host",
        "127.0.0.1",
        "--port",
        std::to_string(server.component_port()),
        "--component",
        kComponent,
        "--domain",
        kHost,
        "--store",
        "sqlite:" + (dir / "rpsync.db").string(),
        "--log-level",
        "info",
        "--stats-interval",
        "1",
        "--requests-per-minute",
        "100000",
    };
    if (!roster_cache) args.insert(args.end(), {"--roster-cache", "0"});
    Status spawned = child_.spawn({.argv = std::move(args),
                                   .env = {std::string("RPSYNC_SECRET=") + kSecret},
                                   .log_path = log_.string(),
                                   .truncate_log = true,
                                   .log_stdout = false,
                                   .close_other_fds = false});
    if (!spawned.ok()) die(spawned.message());
  }
  ~Component() { stop(); }
  Component(const Component&) = delete;
  Component& operator=(const Component&) = delete;

  pid_t pid() const { return child_.pid(); }
  std::string log() const { return read_text(log_); }

  bool wait_connected(Millis timeout) const {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (log().find("connected privileged=yes") != std::string::npos) return true;
      std::this_thread::sleep_for(Millis(50));
    }
    return false;
  }

  // Number of stats lines so far and the value of counter `key` in the last one.
  std::pair<std::size_t, std::uint64_t> stats(std::string_view key = "presence_in") const {
    std::string text = log();
    constexpr std::string_view head = "app: stats.service ";
    std::size_t lines = 0;
    std::uint64_t last = 0;
    const std::string field = " " + std::string(key) + "=";
    for (auto at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
      auto end = text.find('\n', at);
      if (text.find(" presence_in=", at) >= end) continue;  // not a stats event line
      ++lines;
      auto f = text.find(field, at);
      if (f != std::string::npos && f < end)
        last = std::strtoull(text.c_str() + f + field.size(), nullptr, 10);
    }
    return {lines, last};
  }

  // Counter `key` from a stats line written after this call (logged each second).
  std::optional<std::uint64_t> fresh_counter(Millis timeout,
                                             std::string_view key = "presence_in") const {
    auto before = stats(key).first;
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto [lines, value] = stats(key);
      if (lines > before + 1) return value;  // +1: the line being written at call time
      std::this_thread::sleep_for(Millis(50));
    }
    return std::nullopt;
  }

  void stop() { child_.stop(Millis(5000)); }

 private:
  fs::path log_;
  ChildProcess child_;
};

std::string contact_name(int i) {
  return rpsync::bench::contact_name(i, 3);
}
std::string watcher_name(int i) {
  return "w" + std::to_string(i);
}

bool status_starts_with(const Element& e, const std::string& prefix) {
  if (e.name() != "presence") return false;
  auto status = e.child_text("status");
  return status && status->starts_with(prefix);
}

// Reads until nothing arrives for `quiet` (bounded by `limit` stanzas).
std::size_t drain(TestClient& c, Millis quiet = Millis(30), std::size_t limit = 100000) {
  std::size_t n = 0;
  while (n < limit && c.next(quiet)) ++n;
  return n;
}

struct Watch {
  std::size_t got = 0;
  Clock::time_point last{};
};

// Counts presences whose status starts with `tag` until `expected` or the deadline.
Watch watch(TestClient& c, const std::string& tag, std::size_t expected,
            Clock::time_point deadline) {
  Watch w;
  while (w.got < expected) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto e = c.next(left);
    if (!e) break;
    if (status_starts_with(*e, tag)) {
      ++w.got;
      w.last = Clock::now();
    }
  }
  return w;
}

// Round trip of an XEP-0199 ping to the component.
std::optional<double> ping_component(TestClient& c, const std::string& id, Millis timeout) {
  return ping(c, kComponent, id, timeout);
}

std::string loadavg() {
  std::string text = read_text("/proc/loadavg");
  auto third = text.find(' ', text.find(' ', text.find(' ') + 1) + 1);
  return third == std::string::npos ? text : text.substr(0, third);
}

struct World {
  std::vector<std::unique_ptr<TestClient>> watchers;
  std::vector<std::unique_ptr<TestClient>> contacts;
};

World login_all(const ProsodyServer& server, const Options& o) {
  World w;
  std::string why;
  for (int i = 0; i < o.watchers; ++i) {
    auto c = TestClient::login(server.c2s_port(), watcher_name(i), kHost, kPassword, "watch", &why);
    if (!c) die("login: " + why);
    c->send_presence();
    w.watchers.push_back(std::move(c));
  }
  for (int i = 0; i < o.contacts; ++i) {
    auto c = TestClient::login(server.c2s_port(), contact_name(i), kHost, kPassword, "phone", &why);
    if (!c) die("login: " + why);
    c->send(contact_presence("initial status of " + contact_name(i) + ", back soon", i));
    w.contacts.push_back(std::move(c));
  }
  for (auto& c : w.watchers) drain(*c);
  return w;
}

void logout_all(World& w) {
  for (auto& c : w.contacts) c->abort();
  for (auto& c : w.watchers) c->abort();
  w = World{};
}

struct Burst {
  std::size_t broadcasts = 0;
  std::size_t delivered = 0;  // at the watchers
  double routing_s = 0;       // first send -> last watcher delivery
  double component_s = -1;    // first send -> component answered the ping after it
  std::uint64_t presence_in = 0;
  double prosody_cpu = 0, component_cpu = 0, bench_cpu = 0;
};

Burst run_burst(World& w, const Options& o, const std::string& tag, pid_t prosody,
                const Component* component) {
  Burst b;
  b.broadcasts = static_cast<std::size_t>(o.contacts) * static_cast<std::size_t>(o.changes);
  std::optional<std::uint64_t> in_before;
  if (component) {
    if (!ping_component(*w.watchers[0], "settle-" + tag, Millis(10000)))
      die("component did not answer a ping");
    in_before = component->fresh_counter(Millis(5000));
    if (!in_before) die("no stats line from the component");
  }
  const double p0 = cpu_seconds(prosody);
  const double c0 = component ? cpu_seconds(component->pid()) : 0;
  const double s0 = self_cpu_seconds();
  const auto deadline = Clock::now() + Millis(60000);

  std::vector<Watch> seen(w.watchers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < w.watchers.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = watch(*w.watchers[i], tag, b.broadcasts, deadline); });

  const auto t0 = Clock::now();
  for (int round = 0; round < o.changes; ++round)
    for (int i = 0; i < o.contacts; ++i)
      w.contacts[static_cast<std::size_t>(i)]->send(contact_presence(
          tag + " change " + std::to_string(round) + " of " + contact_name(i), i + round + 1));
  for (auto& t : threads) t.join();

  Clock::time_point last = t0;
  for (const auto& s : seen) {
    b.delivered += s.got;
    last = std::max(last, s.last);
  }
  b.routing_s = seconds_since(t0, last);
  if (component) {
    if (ping_component(*w.watchers[0], "done-" + tag, Millis(30000)))
      b.component_s = seconds_since(t0, Clock::now());
  }
  b.prosody_cpu = cpu_seconds(prosody) - p0;
  if (component) b.component_cpu = cpu_seconds(component->pid()) - c0;
  b.bench_cpu = self_cpu_seconds() - s0;
  if (component) {
    auto in_after = component->fresh_counter(Millis(5000));
    if (in_after) b.presence_in = *in_after - *in_before;
  }
  return b;
}

struct Csv {
  std::vector<std::string> rows{"section,metric,value,unit"};
  void add(const std::string& section, const std::string& metric, double value,
           const std::string& unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    rows.push_back(section + "," + metric + "," + buf + "," + unit);
  }
};

struct SyncRound {
  double rtt_ms = 0;
  std::size_t bytes = 0;
  std::size_t items = 0;
};

// Part 2 for one component (one roster-cache mode).
struct SyncPhase {
  bool roster_cache = true;
  std::vector<std::vector<SyncRound>> results;  // per k
  std::vector<double> ping_ms, server_ping_ms, roster_ms;
  std::size_t wrong_items = 0;
  std::size_t flood_stanzas = 0, flood_bytes = 0;
  double flood_s = 0;
  std::uint64_t roster_hits = 0, roster_misses = 0;  // the component's stats counters
};

Element rpsync_iq(const std::string& id, Element payload) {
  Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("to", kComponent);
  iq.set_attr("id", id);
  iq.add(std::move(payload));
  return iq;
}

std::optional<Element> reply_to(TestClient& c, const std::string& id, Millis timeout) {
  return c.wait_for([&](const Element& e) { return e.name() == "iq" && e.attr("id") == id; },
                    timeout);
}

// alice does a full login (the flood is counted) and enables, then for each k, `rounds`
// times: drops her connection, k contacts change status (confirmed by watcher w0 and a ping
// to the component), reconnects and times <sync/> -> <delta/>. `offset` rotates the
// contacts that change across phases.
SyncPhase run_sync_phase(const ProsodyServer& server, World& world, const Component& component,
                         const Options& o, const std::vector<int>& ks, int& offset) {
  SyncPhase ph;
  ph.results.resize(ks.size());
  TestClient& w0 = *world.watchers[0];
  std::string why;
  auto session = TestClient::login(server.c2s_port(), "alice", kHost, kPassword, "bench", &why);
  if (!session) die("alice: " + why);
  Element initial("presence", std::string(ns::kClient));
  initial.add(Element("c", std::string(ns::kCaps)))
      .set_attr("hash", "sha-1")
      .set_attr("node", "https://rpsync.example/bench-client")
      .set_attr("ver", "q07IKJEyjvHSyhy//CH0CxmKi8w=");
  const auto f0 = Clock::now();
  session->send(initial);
  {
    auto deadline = Clock::now() + Millis(30000);
    while (ph.flood_stanzas < static_cast<std::size_t>(o.contacts)) {
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
      if (left.count() <= 0) break;
      auto e = session->next(left);
      if (!e) break;
      if (e->name() != "presence" || e->attr("from").value_or("").starts_with("alice@")) continue;
      ++ph.flood_stanzas;
      ph.flood_bytes += rpsync::xml::to_string(*e, ns::kClient).size();
    }
  }
  ph.flood_s = seconds_since(f0, Clock::now());
  progress("alice's full login: " + std::to_string(ph.flood_stanzas) + " presences, " +
           std::to_string(ph.flood_bytes) + " bytes");

  Element enable("enable", std::string(ns::kRpsync));
  enable.set_attr("stream", session->stream_id());
  session->send(rpsync_iq("enable-1", enable));
  auto enabled = reply_to(*session, "enable-1", Millis(15000));
  const Element* en = enabled ? enabled->child("enabled", ns::kRpsync) : nullptr;
  if (!en) die("enable failed: " + (enabled ? rpsync::xml::to_string(*enabled) : "timeout"));
  progress("enabled, count=" + std::string(en->attr("count").value_or("?")));

  std::string key_stream = session->stream_id(), key_last = "enable-1";
  for (std::size_t ki = 0; ki < ks.size(); ++ki) {
    const int k = ks[ki];
    for (int r = 0; r < o.rounds; ++r) {
      session->abort();
      const std::string tag =
          "S" + std::to_string(offset) + "-" + std::to_string(k) + "-" + std::to_string(r) + " ";
      for (int j = 0; j < k; ++j) {
        int i = (offset + j) % o.contacts;
        world.contacts[static_cast<std::size_t>(i)]->send(
            contact_presence(tag + "new status of " + contact_name(i), i + r + 2));
      }
      offset += k;
      auto seen = watch(w0, tag, static_cast<std::size_t>(k), Clock::now() + Millis(10000));
      if (seen.got != static_cast<std::size_t>(k)) die("watcher missed changes in " + tag);
      auto cping = ping_component(w0, "p-" + tag.substr(0, tag.size() - 1), Millis(10000));
      if (!cping) die("component did not answer a ping");
      ph.ping_ms.push_back(*cping * 1000);
      auto sping = ping(w0, kHost, "s-" + tag.substr(0, tag.size() - 1), Millis(10000));
      if (!sping) die("server did not answer a ping");
      ph.server_ping_ms.push_back(*sping * 1000);

      session = TestClient::login(server.c2s_port(), "alice", kHost, kPassword, "bench", &why);
      if (!session) die("alice: " + why);
      Element sync("sync", std::string(ns::kRpsync));
      sync.set_attr("stream", session->stream_id());
      Element& key = sync.add(Element("key", std::string(ns::kRpsync)));
      key.set_attr("stream", key_stream);
      key.set_attr("resource", "bench");
      key.set_attr("last", key_last);
      const std::string id = "sync-" + std::to_string(k) + "-" + std::to_string(r);
      const auto t0 = Clock::now();
      session->send(rpsync_iq(id, sync));
      auto answer = reply_to(*session, id, Millis(15000));
      const double rtt = seconds_since(t0, Clock::now()) * 1000;
      const Element* delta = answer ? answer->child("delta", ns::kRpsync) : nullptr;
      if (!delta) die("sync failed: " + (answer ? rpsync::xml::to_string(*answer) : "timeout"));
      SyncRound sr;
      sr.rtt_ms = rtt;
      sr.bytes = rpsync::xml::to_string(*answer, ns::kClient).size();
      sr.items = delta->children().size();
      if (sr.items != static_cast<std::size_t>(k)) ++ph.wrong_items;
      ph.results[ki].push_back(sr);
      key_stream = session->stream_id();
      key_last = id;

      // Baseline for the component's privileged roster fetch: Prosody answering the same
      // roster to alice herself.
      Element get("iq", std::string(ns::kClient));
      get.set_attr("type", "get");
      get.set_attr("id", "roster-" + id);
      get.add(Element("query", std::string(ns::kRoster)));
      const auto g0 = Clock::now();
      session->send(get);
      auto roster = reply_to(*session, "roster-" + id, Millis(15000));
      if (!roster || roster->attr("type") != "result") die("roster get failed");
      ph.roster_ms.push_back(seconds_since(g0, Clock::now()) * 1000);
    }
    progress("sync rounds with " + std::to_string(k) + " changed contacts done");
  }
  session->abort();
  ph.roster_hits = component.fresh_counter(Millis(5000), "roster_cache_hits").value_or(0);
  ph.roster_misses = component.stats("roster_cache_misses").second;
  return ph;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](int lo, int hi) {
      int v = std::atoi(value().c_str());
      if (v < lo || v > hi)
        die(a + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
      return v;
    };
    if (a == "--contacts")
      o.contacts = number(10, 1000);
    else if (a == "--watchers")
      o.watchers = number(1, 16);
    else if (a == "--changes")
      o.changes = number(1, 100);
    else if (a == "--bursts")
      o.bursts = number(1, 10);
    else if (a == "--rounds")
      o.rounds = number(1, 100);
    else if (a == "--csv")
      o.csv = value();
    else if (a == "--no-nagle")
      o.nagle = false;
    else if (a == "--no-gate")
      o.gate = false;
    else if (a == "--roster-cache") {
      o.roster_cache.clear();
      std::istringstream modes(value());
      for (std::string m; std::getline(modes, m, ',');) {
        if (m != "on" && m != "off") die("--roster-cache takes on/off, comma-separated");
        o.roster_cache.push_back(m == "on");
      }
      if (o.roster_cache.empty() || o.roster_cache.size() > 4)
        die("--roster-cache takes 1 to 4 modes");
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: rpsync_component_bench [--contacts N=500] [--watchers W=4] [--changes C=10]\n"
          "       [--bursts B=3] [--rounds R=20] [--no-nagle] [--no-gate]\n"
          "       [--roster-cache MODES=on,off] [--csv PATH]\n"
          "  --no-nagle: Prosody with network_settings = { nagle = false } (TCP_NODELAY)\n"
          "  --no-gate: Prosody without mod_rpsync_gate (no versioned roster for the component)\n"
          "  --roster-cache: sync phases in this order, each with the component's roster\n"
          "                  cache on or off (restarted with --roster-cache 0)\n");
      std::exit(0);
    } else {
      die("unknown argument " + a + " (see --help)");
    }
  }
  return o;
}

double rate(double n, double s) {
  return s > 0 ? n / s : 0;
}

// Users and rosters: alice and the watchers have every contact in their roster.
std::unique_ptr<ProsodyServer> prepare_server(const Options& o) {
  rpsync::test::ProsodyOptions po;
  po.component_jid = kComponent;
  po.component_secret = kSecret;
  std::string why;
  auto server = ProsodyServer::create(po, &why);
  if (!server) die(why);
  const std::string alice = std::string("alice@") + kHost;
  server->add_user("alice", kHost, kPassword);
  for (int j = 0; j < o.watchers; ++j) server->add_user(watcher_name(j), kHost, kPassword);
  for (int i = 0; i < o.contacts; ++i) {
    const std::string c = contact_name(i);
    const std::string bare = c + "@" + kHost;
    server->add_user(c, kHost, kPassword);
    server->add_roster_item(alice, bare, "both");
    server->add_roster_item(bare, alice, "both");
    for (int j = 0; j < o.watchers; ++j) {
      const std::string wb = watcher_name(j) + "@" + kHost;
      server->add_roster_item(bare, wb, "from");
      server->add_roster_item(wb, bare, "to");
    }
  }
  return server;
}

// Part 1a: Prosody routing alone.
std::vector<Burst> bursts_alone(World& world, const Options& o, const ProsodyServer& server) {
  std::vector<Burst> alone;
  for (int r = 0; r < o.bursts; ++r) {
    alone.push_back(run_burst(world, o, "A" + std::to_string(r), prosody_pid(server), nullptr));
    progress("routing alone, burst " + std::to_string(r) + ": " +
             std::to_string(alone.back().delivered) + " delivered in " +
             std::to_string(alone.back().routing_s) + " s");
  }
  return alone;
}

// Part 1b: the same load with rpsync-component attached.
std::vector<Burst> bursts_with(World& world, const Options& o, const ProsodyServer& server,
                               Component& component) {
  std::vector<Burst> with;
  for (int r = 0; r < o.bursts; ++r) {
    with.push_back(run_burst(world, o, "B" + std::to_string(r), prosody_pid(server), &component));
    progress("with component, burst " + std::to_string(r) + ": " +
             std::to_string(with.back().delivered) + " delivered in " +
             std::to_string(with.back().routing_s) + " s, component done at " +
             std::to_string(with.back().component_s) + " s, presence_in +" +
             std::to_string(with.back().presence_in));
  }
  return with;
}

// The component in a directory (log, store) of its own per start (a reused log still
// says "connected" from before); `started` counts the starts.
std::unique_ptr<Component> start_component(const ProsodyServer& server, int& started,
                                           bool roster_cache) {
  const fs::path work = fs::path(server.dir()) / ("component-" + std::to_string(++started) +
                                                  (roster_cache ? "-cache" : "-nocache"));
  fs::create_directories(work);
  auto c = std::make_unique<Component>(server, work, roster_cache);
  if (!c->wait_connected(Millis(15000)))
    die("component did not connect with privileges:\n" + c->log());
  return c;
}

// Part 2: sync round-trips for a roster of `contacts` online contacts, once per roster-cache
// mode; `component` is replaced by a component in the next mode between phases.
std::vector<SyncPhase> sync_phases(const ProsodyServer& server, World& world,
                                   std::unique_ptr<Component>& component, int& started,
                                   const Options& o, const std::vector<int>& ks) {
  for (std::size_t j = 1; j < world.watchers.size(); ++j) world.watchers[j]->abort();
  TestClient& w0 = *world.watchers[0];
  drain(w0);
  std::vector<SyncPhase> phases;
  int offset = 0;
  for (std::size_t m = 0; m < o.roster_cache.size(); ++m) {
    if (m > 0) {
      // Prosody refuses a second connection under the same name: stop, then start the
      // other mode. Its re-sent presences are ingested before alice logs in (ping).
      component->stop();
      component = start_component(server, started, o.roster_cache[m]);
      if (!ping_component(w0, "settle-mode-" + std::to_string(m), Millis(15000)))
        die("restarted component did not answer a ping");
      drain(w0);
    }
    phases.push_back(run_sync_phase(server, world, *component, o, ks, offset));
    phases.back().roster_cache = o.roster_cache[m];
    progress(std::string("sync phase with the roster cache ") + (o.roster_cache[m] ? "on" : "off") +
             " done: roster cache hits " + std::to_string(phases.back().roster_hits) + ", misses " +
             std::to_string(phases.back().roster_misses));
  }
  return phases;
}

// The figures of part 1, from the bursts without and with the component.
struct Ingest {
  double a_bcast = 0, a_deliv = 0, b_bcast = 0, b_deliv = 0, c_ingest = 0, lag_ms = 0;
  double a_pcpu = 0, b_pcpu = 0, c_cpu = 0;
  double a_capacity = 0, b_capacity = 0, c_capacity = 0, c_cpu_sum = 0;
  std::size_t lost = 0, ingest_mismatch = 0;
};

Ingest ingest_figures(const std::vector<Burst>& alone, const std::vector<Burst>& with,
                      const Options& o) {
  Ingest f;
  const double bc = static_cast<double>(alone.front().broadcasts);
  auto deliv = [](const Burst& b) { return rate(static_cast<double>(b.delivered), b.routing_s); };
  f.a_bcast = median_of(alone, [&](const Burst& b) { return rate(bc, b.routing_s); });
  f.a_deliv = median_of(alone, deliv);
  f.b_bcast = median_of(with, [&](const Burst& b) { return rate(bc, b.routing_s); });
  f.b_deliv = median_of(with, deliv);
  f.c_ingest = median_of(with, [&](const Burst& b) {
    return rate(static_cast<double>(b.presence_in), b.component_s);
  });
  f.lag_ms = median_of(with, [&](const Burst& b) { return (b.component_s - b.routing_s) * 1000; });
  f.a_pcpu = median_of(alone, [&](const Burst& b) { return b.prosody_cpu; });
  f.b_pcpu = median_of(with, [&](const Burst& b) { return b.prosody_cpu; });
  f.c_cpu = median_of(with, [&](const Burst& b) { return b.component_cpu; });
  // CPU time is counted in 10 ms ticks: capacities use the sums over all bursts.
  double a_cpu_sum = 0, b_cpu_sum = 0, in_sum = 0;
  for (const auto& b : alone) a_cpu_sum += b.prosody_cpu;
  for (const auto& b : with) {
    b_cpu_sum += b.prosody_cpu;
    f.c_cpu_sum += b.component_cpu;
    in_sum += static_cast<double>(b.presence_in);
  }
  f.a_capacity = rate(bc * static_cast<double>(alone.size()), a_cpu_sum);
  f.b_capacity = rate(bc * static_cast<double>(with.size()), b_cpu_sum);
  // At least one tick, so that an unmeasurably small CPU time gives a lower bound.
  f.c_capacity = rate(in_sum, std::max(f.c_cpu_sum, 0.01));
  const auto watchers = static_cast<std::size_t>(o.watchers);
  for (const auto& b : alone) f.lost += b.broadcasts * watchers - b.delivered;
  for (const auto& b : with) {
    f.lost += b.broadcasts * watchers - b.delivered;
    if (b.presence_in != b.broadcasts) ++f.ingest_mismatch;
  }
  return f;
}

void print_ingest(const Ingest& f, const Options& o, const std::string& load_start) {
  std::printf(
      "\nrpsync component benchmark: Prosody 0.12 on loopback, %d contacts x %d changes "
      "per burst, %d watchers, median of %d bursts, Prosody Nagle %s, mod_rpsync_gate %s\n",
      o.contacts, o.changes, o.watchers, o.bursts, o.nagle ? "on (default)" : "off",
      o.gate ? "loaded" : "not loaded");
  std::printf(
      "(one machine, %ld cores, shared by the load generator, Prosody and the component; "
      "load average at start %s, at end %s)\n\n",
      ::sysconf(_SC_NPROCESSORS_ONLN), load_start.c_str(), loadavg().c_str());
  std::printf("%-52s %12s\n", "ingest", "value");
  std::printf("%-52s %12.0f\n", "Prosody alone: broadcasts/s", f.a_bcast);
  std::printf("%-52s %12.0f\n", "Prosody alone: stanzas delivered to watchers/s", f.a_deliv);
  std::printf("%-52s %12.0f\n", "with component: broadcasts/s", f.b_bcast);
  std::printf("%-52s %12.0f\n", "with component: stanzas delivered to watchers/s", f.b_deliv);
  std::printf("%-52s %12.0f\n", "component ingest: presence stanzas/s (end to end)", f.c_ingest);
  std::printf("%-52s %12.2f\n", "ratio component ingest / Prosody broadcasts (same run)",
              rate(f.c_ingest, f.b_bcast));
  std::printf("%-52s %12.2f\n", "ratio routing with / without component",
              rate(f.b_bcast, f.a_bcast));
  std::printf("%-52s %12.1f\n", "component lag after last watcher delivery (ms)", f.lag_ms);
  std::printf("%-52s %12.3f\n", "CPU s per burst: Prosody alone", f.a_pcpu);
  std::printf("%-52s %12.3f\n", "CPU s per burst: Prosody with component", f.b_pcpu);
  std::printf("%-52s %12.3f\n", "CPU s per burst: component", f.c_cpu);
  std::printf("%-52s %12.0f\n", "CPU capacity: Prosody alone, broadcasts/CPU-s", f.a_capacity);
  std::printf("%-52s %12.0f\n", "CPU capacity: Prosody w/ component, broadcasts/CPU-s",
              f.b_capacity);
  std::printf("%-52s %12.0f%s\n", "CPU capacity: component, presence/CPU-s", f.c_capacity,
              f.c_cpu_sum < 0.01 ? " (lower bound: <10 ms CPU)" : "");
  std::printf("%-52s %12.1f\n", "capacity ratio component / Prosody (w/ component)",
              rate(f.c_capacity, f.b_capacity));
  std::printf("%-52s %12zu\n", "stanzas lost at watchers (all bursts)", f.lost);
  std::printf("%-52s %12zu\n", "bursts where presence_in != broadcasts", f.ingest_mismatch);
}

// One phase's round-trip table per k, printed and added to the CSV.
void report_round_trips(const SyncPhase& ph, const std::vector<int>& ks, const Options& o,
                        Csv& csv) {
  const std::string mode = ph.roster_cache ? "cache" : "nocache";
  std::printf(
      "\nsync round-trip, %d-contact roster, %d rounds per k (client side, sync sent -> "
      "delta received); component roster cache %s, Prosody %s mod_rpsync_gate\n",
      o.contacts, o.rounds, ph.roster_cache ? "on" : "off (--roster-cache 0)",
      o.gate ? "with" : "without");
  std::printf("%-10s %10s %10s %12s %10s\n", "changed", "median ms", "p95 ms", "delta bytes",
              "items");
  for (std::size_t ki = 0; ki < ks.size(); ++ki) {
    std::vector<double> rtts, bytes;
    for (const auto& sr : ph.results[ki]) {
      rtts.push_back(sr.rtt_ms);
      bytes.push_back(static_cast<double>(sr.bytes));
    }
    const double med = percentile(rtts, 0.5), p95 = percentile(rtts, 0.95);
    const double b = percentile(bytes, 0.5);
    std::printf("%-10d %10.2f %10.2f %12.0f %10d\n", ks[ki], med, p95, b, ks[ki]);
    const std::string sec = "sync_" + mode + "_k" + std::to_string(ks[ki]);
    csv.add(sec, "rtt_median", med, "ms");
    csv.add(sec, "rtt_p95", p95, "ms");
    csv.add(sec, "delta_bytes_median", b, "bytes");
    csv.add(sec, "delta_vs_flood", rate(b, static_cast<double>(ph.flood_bytes)), "ratio");
  }
}

// One phase's other figures (roster cache, pings, the login flood), printed and to the CSV.
void report_phase_figures(const SyncPhase& ph, Csv& csv) {
  const std::string sec = std::string("sync_") + (ph.roster_cache ? "cache" : "nocache");
  std::printf("%-52s %12llu / %llu\n", "component roster gets: cache hits / misses",
              static_cast<unsigned long long>(ph.roster_hits),
              static_cast<unsigned long long>(ph.roster_misses));
  std::printf("%-52s %12.2f\n", "ping RTT to component, median (ms)", percentile(ph.ping_ms, 0.5));
  std::printf("%-52s %12.2f\n", "ping RTT to Prosody itself, median (ms)",
              percentile(ph.server_ping_ms, 0.5));
  std::printf("%-52s %12.2f\n", "alice's own roster get RTT, median (ms)",
              percentile(ph.roster_ms, 0.5));
  std::printf("%-52s %12zu\n", "full login flood: presence stanzas", ph.flood_stanzas);
  std::printf("%-52s %12zu\n", "full login flood: bytes (re-serialised)", ph.flood_bytes);
  std::printf("%-52s %12.1f\n", "full login flood: time to last presence (ms)", ph.flood_s * 1000);
  csv.add(sec, "roster_cache_hits", static_cast<double>(ph.roster_hits), "gets");
  csv.add(sec, "roster_cache_misses", static_cast<double>(ph.roster_misses), "gets");
  csv.add(sec, "ping_rtt_median", percentile(ph.ping_ms, 0.5), "ms");
  csv.add(sec, "server_ping_rtt_median", percentile(ph.server_ping_ms, 0.5), "ms");
  csv.add(sec, "roster_get_rtt_median", percentile(ph.roster_ms, 0.5), "ms");
  csv.add(sec, "flood_stanzas", static_cast<double>(ph.flood_stanzas), "stanzas");
  csv.add(sec, "flood_bytes", static_cast<double>(ph.flood_bytes), "bytes");
  csv.add(sec, "flood_time", ph.flood_s * 1000, "ms");
  csv.add(sec, "rounds_wrong_item_count", static_cast<double>(ph.wrong_items), "rounds");
}

void add_ingest_csv(Csv& csv, const Ingest& f) {
  csv.add("ingest", "prosody_alone_broadcasts_per_s", f.a_bcast, "1/s");
  csv.add("ingest", "prosody_alone_delivered_per_s", f.a_deliv, "1/s");
  csv.add("ingest", "with_component_broadcasts_per_s", f.b_bcast, "1/s");
  csv.add("ingest", "with_component_delivered_per_s", f.b_deliv, "1/s");
  csv.add("ingest", "component_ingest_per_s", f.c_ingest, "1/s");
  csv.add("ingest", "ratio_component_ingest_to_broadcasts", rate(f.c_ingest, f.b_bcast), "ratio");
  csv.add("ingest", "ratio_routing_with_to_without", rate(f.b_bcast, f.a_bcast), "ratio");
  csv.add("ingest", "component_lag", f.lag_ms, "ms");
  csv.add("ingest", "prosody_alone_cpu_per_burst", f.a_pcpu, "s");
  csv.add("ingest", "prosody_with_component_cpu_per_burst", f.b_pcpu, "s");
  csv.add("ingest", "component_cpu_per_burst", f.c_cpu, "s");
  csv.add("ingest", "prosody_alone_broadcasts_per_cpu_s", f.a_capacity, "1/s");
  csv.add("ingest", "prosody_with_component_broadcasts_per_cpu_s", f.b_capacity, "1/s");
  csv.add("ingest", "component_presence_per_cpu_s", f.c_capacity, "1/s");
  csv.add("ingest", "lost_at_watchers", static_cast<double>(f.lost), "stanzas");
  csv.add("ingest", "bursts_presence_in_mismatch", static_cast<double>(f.ingest_mismatch),
          "bursts");
}

void add_run_csv(Csv& csv, const Options& o, double bench_cpu, Clock::time_point wall0,
                 const std::string& load_start) {
  csv.add("run", "bench_cpu", bench_cpu, "s");
  csv.add("run", "wall", seconds_since(wall0, Clock::now()), "s");
  csv.add("run", "loadavg_1min_start", std::atof(load_start.c_str()), "load");
  csv.add("run", "loadavg_1min_end", std::atof(loadavg().c_str()), "load");
  csv.add("run", "prosody_nagle", o.nagle ? 1 : 0, "bool");
  csv.add("run", "prosody_rpsync_gate", o.gate ? 1 : 0, "bool");
  csv.add("run", "cores", static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN)), "cores");
  std::ofstream out(o.csv);
  for (const auto& row : csv.rows) out << row << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const auto wall0 = Clock::now();
  const std::string load_start = loadavg();
  auto server = prepare_server(o);
  const std::string config = read_text(fs::path(server->dir()) / "prosody.cfg.lua");

  patch_prosody_config(*server, config, /*privileged=*/false, o.nagle, o.gate);
  if (!server->launch()) die("prosody did not start:\n" + server->log());
  progress("prosody up (no privileged entity); logging in " + std::to_string(o.contacts) +
           " contacts and " + std::to_string(o.watchers) + " watchers");
  World world = login_all(*server, o);
  const std::vector<Burst> alone = bursts_alone(world, o, *server);
  logout_all(world);

  patch_prosody_config(*server, config, /*privileged=*/true, o.nagle, o.gate);
  if (!server->restart()) die("prosody did not restart:\n" + server->log());
  int started = 0;
  auto component = start_component(*server, started, o.roster_cache.front());
  progress("prosody + component up; logging in again");
  world = login_all(*server, o);
  const std::vector<Burst> with = bursts_with(world, o, *server, *component);

  const std::vector<int> ks = {0, std::max(1, o.contacts / 100), std::max(1, o.contacts / 10)};
  const auto phases = sync_phases(*server, world, component, started, o, ks);
  const double bench_cpu_total = self_cpu_seconds();
  component->stop();
  logout_all(world);

  const Ingest f = ingest_figures(alone, with, o);
  print_ingest(f, o, load_start);
  Csv csv;
  std::size_t wrong_items = 0;
  for (const auto& ph : phases) {
    report_round_trips(ph, ks, o, csv);
    report_phase_figures(ph, csv);
    wrong_items += ph.wrong_items;
  }
  std::printf("%-52s %12zu\n", "rounds whose delta item count != k", wrong_items);
  std::printf("%-52s %12.1f\n", "bench process CPU s (load generator)", bench_cpu_total);
  std::printf("%-52s %12.1f\n", "wall time (s)", seconds_since(wall0, Clock::now()));
  add_ingest_csv(csv, f);
  add_run_csv(csv, o, bench_cpu_total, wall0, load_start);
  std::printf("\nCSV: %s\n", o.csv.c_str());
  return (f.lost == 0 && f.ingest_mismatch == 0 && wrong_items == 0) ? 0 : 3;
}
