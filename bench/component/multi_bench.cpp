// SPDX-License-Identifier: MIT
// rpsync_multi_bench: presence ingest rate and sync latency of rpsync-component
// on the embedded store (sqlite, one instance) beside the Redis store with the change
// feed and 1, 2 and 4 instances, all attached to one real Prosody as separate component
// JIDs, in one run. See README.md ("Several instances on Redis").
//
// Per setup: a fresh Prosody (log level warn) with four privileged component JIDs, a fresh
// redis-server (appendonly yes, appendfsync always) for the Redis setups, N instances.
//  * ingest: C contacts each send K presence changes as fast as one thread writes them; a
//    watcher with every contact in its roster counts the broadcasts; then each instance
//    answers a ping (in stream order: it has ingested everything). Rate = C*K / time from
//    the first send to the last ping answer (the slowest instance).
//  * sync: alice (all C contacts, both) enables at instance 0; then R rounds: her
//    connection is reset, one contact changes status, every instance is pinged, alice logs
//    in again and syncs with her last key through instance (round mod N), so with N > 1
//    every sync uses a key taken at ANOTHER instance and carried by the feed. Latency =
//    sync sent -> delta received, at the client. Failures are counted by condition.
//  * own gap (after the table; Redis, 2 instances, the second one reaching Prosody through a
//    TcpProxy): alice enables at the second instance B; then G rounds of: alice offline,
//    B's server connection cut for --gap-ms while k = 5 % of the contacts change (the
//    first instance observes throughout), the connection restored; the time until B
//    answers again (not-ready meanwhile) and alice's sync through B (a delta of k items,
//    or the failure). Then 2G rounds of B restarted (SIGTERM, start), alternately with k
//    contacts changing after it is ready (its restored key is taken again: the client's
//    state is still the view) and while it is down (the key's state is not known at B:
//    continuity-lost, by design), each followed by alice's sync through B. Before group
//    continuity covered an instance's own gap, every one of these syncs answered
//    continuity-lost.
// Loopback only, every wait bounded; exits 3 when a delta has the wrong size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/figures.h"
#include "bench/common/timing.h"
#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/redis/redis_server.h"
#include "tests/harness/tcp_proxy.h"
#include "tests/harness/test_client.h"
#include "tests/scenario/component_process.h"

namespace {

namespace fs = std::filesystem;
using rpsync::bench::Clock;
using rpsync::bench::percentile;
using rpsync::bench::progress;
using rpsync::bench::seconds_since;
using rpsync::test::ProsodyServer;
using rpsync::test::RedisServer;
using rpsync::test::TcpProxy;
using rpsync::test::TestClient;
using rpsync::test::scenario::ComponentProcess;
using rpsync::test::scenario::ComponentSpec;
using rpsync::xml::Element;
using Millis = std::chrono::milliseconds;

constexpr const char* kHost = "example.test";
constexpr const char* kPassword = "pw";
constexpr int kMaxInstances = 4;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_multi_bench: %s\n", why.c_str());
  std::exit(3);
}
std::string jid_of(int i) {
  return "rpsync-m" + std::to_string(i) + ".example.test";
}

struct Options {
  int contacts = 200;
  int changes = 5;
  int rounds = 20;
  int gap_rounds = 5;
  int gap_ms = 3000;
  bool own_gap_only = false;  // skip the table (quick runs of the own-gap phase)
  std::string csv = std::string(RPSYNC_BENCH_OUT_DIR) + "/bench_multi.csv";
};

struct Setup {
  std::string name;
  bool redis = false;
  int instances = 1;
};

struct Figures {
  double ingest_per_s = 0;
  double ingest_s = 0;
  std::vector<double> sync_ms;
  std::map<std::string, int> failures;
};

struct GapFigures {
  std::string name;
  int synced = 0;  // rounds whose sync through B answered a delta of the expected size
  int rounds = 0;
  std::vector<double> unready_s;  // from reconnect (or restart) until B answered again
  std::vector<double> sync_ms;
  std::map<std::string, int> failures;
};

// One IQ round trip from `c`; the answer (nullopt on timeout).
std::optional<Element> iq(TestClient& c, const std::string& to, const std::string& type,
                          const std::string& id, const std::string& payload, Millis timeout) {
  if (!c.send_raw("<iq type='" + type + "' id='" + id + "' to='" + to + "'>" + payload + "</iq>"))
    return std::nullopt;
  return c.wait_for([&](const Element& e) { return e.name() == "iq" && e.attr("id") == id; },
                    timeout);
}
std::string app_condition(const Element& answer) {
  const Element* error = answer.child("error");
  if (!error) return "?";
  for (const auto& c : error->children())
    if (c.ns() == rpsync::ns::kRpsync) return std::string(c.name());
  for (const auto& c : error->children()) return std::string(c.name());
  return "?";
}

void patch_prosody(ProsodyServer& server) {
  const fs::path cfg = fs::path(server.dir()) / "prosody.cfg.lua";
  std::stringstream text;
  text << std::ifstream(cfg).rdbuf();
  std::string c = text.str();
  const std::string grant = "{ roster = \"get\"; presence = \"roster\"; }";
  const std::string first = "[\"" + jid_of(0) + "\"] = " + grant;
  const auto at = c.find(first);
  if (at == std::string::npos) die("unexpected harness config");
  std::string more;
  for (int i = 1; i < kMaxInstances; ++i) more += "; [\"" + jid_of(i) + "\"] = " + grant;
  c.insert(at + first.size(), more);
  for (int i = 1; i < kMaxInstances; ++i)
    c += "Component \"" + jid_of(i) +
         "\"\n  component_secret = \"s3cret\"\n  modules_enabled = { \"privilege\" }\n";
  const auto log = c.find("log = { debug = ");
  if (log != std::string::npos) c.replace(log, 16, "log = { warn = ");
  std::ofstream(cfg, std::ios::trunc) << c;
}

bool wait_ready(TestClient& probe, const std::string& jid, ComponentProcess& p) {
  const auto deadline = Clock::now() + Millis(30000);
  for (int i = 0; Clock::now() < deadline; ++i) {
    if (!p.alive()) return false;
    auto a = iq(probe, jid, "set", "ready" + std::to_string(i),
                "<disable xmlns='urn:xmpp:rpsync:0' stream='never-enabled'/>", Millis(2000));
    // The component itself answers (not-enabled); the server answers for a component it has
    // no connection to (remote-server-timeout), the component while busy with not-ready.
    if (a && (a->attr("type") == "result" || app_condition(*a) == "not-enabled")) return true;
    std::this_thread::sleep_for(Millis(200));
  }
  return false;
}

std::unique_ptr<TestClient> login(ProsodyServer& s, const std::string& user,
                                  const std::string& resource) {
  std::string why;
  auto c = TestClient::login(s.c2s_port(), user, kHost, kPassword, resource, &why);
  if (!c) die(user + ": " + why);
  return c;
}

// Reads presence stanzas from `c` until `n` arrived (bounded).
std::size_t count_presence(TestClient& c, std::size_t n, Millis timeout) {
  std::size_t got = 0;
  const auto deadline = Clock::now() + timeout;
  while (got < n && Clock::now() < deadline) {
    auto e = c.next(Millis(1000));
    if (e && e->name() == "presence") ++got;
  }
  return got;
}

// One setup's world: a fresh Prosody with every contact online and a watcher that sees
// them all, Redis when asked, the instances ready. With `proxy_last` the last instance
// reaches Prosody through a TcpProxy (the own-gap phase cuts it).
struct Bed {
  std::unique_ptr<ProsodyServer> server;
  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<TcpProxy> proxy;
  std::vector<std::unique_ptr<ComponentProcess>> instances;
  std::vector<std::unique_ptr<TestClient>> contacts;
  std::unique_ptr<TestClient> probe, w;

  ~Bed() {
    for (auto& p : instances) p->terminate();
  }
  // Every instance answers a ping from the watcher (in stream order: it has ingested
  // everything the watcher saw).
  void ping_all(const std::string& tag) {
    for (std::size_t i = 0; i < instances.size(); ++i) {
      const int n = static_cast<int>(i);
      auto a = iq(*w, jid_of(n), "get", tag + std::to_string(i), "<ping xmlns='urn:xmpp:ping'/>",
                  Millis(30000));
      if (!a || a->attr("type") != "result") die("ping " + jid_of(n) + " failed");
    }
  }
  void ready(int i) {
    if (!wait_ready(*probe, jid_of(i), *instances[static_cast<std::size_t>(i)]))
      die(jid_of(i) + " not ready:\n" + instances[static_cast<std::size_t>(i)]->log());
  }
};

std::unique_ptr<Bed> make_bed(const Setup& setup, const Options& o, bool proxy_last) {
  auto bed = std::make_unique<Bed>();
  rpsync::test::ProsodyOptions po;
  po.hosts = {kHost};
  po.component_jid = jid_of(0);
  std::string why;
  bed->server = ProsodyServer::create(po, &why);
  if (!bed->server) die(why);
  ProsodyServer& server = *bed->server;
  patch_prosody(server);
  const std::string alice = std::string("alice@") + kHost, watcher = std::string("w@") + kHost;
  for (const char* u : {"alice", "w", "probe"}) server.add_user(u, kHost, kPassword);
  for (int i = 0; i < o.contacts; ++i) {
    const std::string c = "c" + std::to_string(i);
    server.add_user(c, kHost, kPassword);
    server.add_roster_item(alice, c + "@" + kHost, "both");
    server.add_roster_item(c + "@" + kHost, alice, "both");
    server.add_roster_item(watcher, c + "@" + kHost, "to");
    server.add_roster_item(c + "@" + kHost, watcher, "from");
  }
  if (!server.launch()) die("prosody did not start:\n" + server.log());
  if (setup.redis) {
    bed->redis = RedisServer::start({}, &why);
    if (!bed->redis) die("redis: " + why);
  }
  if (proxy_last) {
    bed->proxy = TcpProxy::start(server.component_port(), &why);
    if (!bed->proxy) die(why);
  }
  for (int i = 0; i < setup.instances; ++i) {
    const fs::path dir = fs::path(server.dir()) / ("instance-" + std::to_string(i));
    fs::create_directories(dir);
    ComponentSpec spec;
    spec.component_jid = jid_of(i);
    spec.extra_args = {"--log-level", "info", "--requests-per-minute", "100000"};
    if (setup.redis)
      spec.extra_args.insert(spec.extra_args.end(),
                             {"--store", bed->redis->uri(0, "rpsync"), "--instance-id",
                              "m" + std::to_string(i), "--heartbeat-ttl-ms", "3000"});
    const bool proxied = proxy_last && i == setup.instances - 1;
    bed->instances.push_back(std::make_unique<ComponentProcess>(
        dir.string(), proxied ? bed->proxy->port() : server.component_port(), spec));
    if (!bed->instances.back()->start(&why)) die(why);
  }
  bed->probe = login(server, "probe", "p");
  for (int i = 0; i < setup.instances; ++i) bed->ready(i);

  for (int i = 0; i < o.contacts; ++i) {
    bed->contacts.push_back(login(server, "c" + std::to_string(i), "r"));
    bed->contacts.back()->send_presence("", "hello");
  }
  bed->w = login(server, "w", "r");
  bed->w->send_presence();
  count_presence(*bed->w, static_cast<std::size_t>(o.contacts), Millis(20000));
  bed->ping_all("settle");
  return bed;
}

// alice logs in and sees her contacts.
std::unique_ptr<TestClient> alice_online(Bed& bed, const Options& o) {
  auto a = login(*bed.server, "alice", "r");
  a->send_presence();
  count_presence(*a, static_cast<std::size_t>(o.contacts), Millis(20000));
  return a;
}

struct Key {
  std::string stream, last;
};
Key enable(TestClient& a, int at, const std::string& id) {
  auto e = iq(a, jid_of(at), "set", id,
              "<enable xmlns='urn:xmpp:rpsync:0' stream='" + a.stream_id() + "'/>", Millis(10000));
  if (!e || e->attr("type") != "result")
    die("enable at " + jid_of(at) + " failed: " + (e ? rpsync::xml::to_string(*e) : "no answer"));
  return {a.stream_id(), id};
}
// Syncs `key` through instance `at` with id `id`; the answer and its latency (ms).
std::pair<Element, double> sync(TestClient& a, int at, const Key& key, const std::string& id) {
  const auto t = Clock::now();
  auto answer = iq(a, jid_of(at), "set", id,
                   "<sync xmlns='urn:xmpp:rpsync:0' stream='" + a.stream_id() + "'><key stream='" +
                       key.stream + "' resource='r' last='" + key.last + "'/></sync>",
                   Millis(10000));
  const double ms = seconds_since(t) * 1000;
  if (!answer) die("sync timed out");
  return {std::move(*answer), ms};
}
std::size_t delta_items(const Element& answer) {
  const Element* delta = answer.child("delta", rpsync::ns::kRpsync);
  return delta ? delta->children().size() : 0;
}

// alice (just logged in) syncs `key` through instance `at` with id `id`. A delta of `items`
// items moves `key` forward and its latency goes to `ms`; a failure is counted by
// condition, and she logs in normally and enables there again. Exits 3 on a delta of
// another size. Returns whether she got a delta.
bool sync_or_login(TestClient& a, int at, Key& key, const std::string& id, std::size_t items,
                   const Options& o, std::vector<double>& ms,
                   std::map<std::string, int>& failures) {
  auto [answer, latency] = sync(a, at, key, id);
  if (answer.attr("type") == "result") {
    if (delta_items(answer) != items)
      die("a delta of " + std::to_string(delta_items(answer)) + " items, not " +
          std::to_string(items));
    ms.push_back(latency);
    key = {a.stream_id(), id};
    return true;
  }
  ++failures[app_condition(answer)];
  a.send_presence();
  count_presence(a, static_cast<std::size_t>(o.contacts), Millis(20000));
  key = enable(a, at, "e" + id);
  return false;
}

Figures run_setup(const Setup& setup, const Options& o) {
  auto bed = make_bed(setup, o, false);
  Figures f;
  // --- ingest ---
  const std::size_t total =
      static_cast<std::size_t>(o.contacts) * static_cast<std::size_t>(o.changes);
  const auto t0 = Clock::now();
  for (int k = 0; k < o.changes; ++k)
    for (int i = 0; i < o.contacts; ++i)
      bed->contacts[static_cast<std::size_t>(i)]->send_presence(
          k % 2 ? "away" : "dnd", "burst " + std::to_string(k) + " of " + std::to_string(i));
  if (count_presence(*bed->w, total, Millis(60000)) != total) die("watcher missed broadcasts");
  bed->ping_all("ingested");
  f.ingest_s = seconds_since(t0);
  f.ingest_per_s = static_cast<double>(total) / f.ingest_s;
  progress(setup.name + ": ingest " + std::to_string(total) + " presences in " +
           std::to_string(f.ingest_s) + " s");

  // --- sync ---
  auto a = alice_online(*bed, o);
  Key key = enable(*a, 0, "e0");
  std::this_thread::sleep_for(Millis(100));  // the session's feed entry reaches every peer
  for (int r = 0; r < o.rounds; ++r) {
    a->abort();
    auto& c = *bed->contacts[static_cast<std::size_t>(r % o.contacts)];
    c.send_presence("xa", "round " + std::to_string(r));
    count_presence(*bed->w, 1, Millis(10000));
    bed->ping_all("round" + std::to_string(r) + "-");
    a = login(*bed->server, "alice", "r");
    const int at = r % setup.instances;
    const std::string id = "s" + std::to_string(r);
    sync_or_login(*a, at, key, id, 1, o, f.sync_ms, f.failures);
    std::this_thread::sleep_for(Millis(50));  // let the key's entry reach the next instance
  }
  return f;
}

// The own-gap phase (header comment): figures per kind of gap.
std::vector<GapFigures> run_own_gap(const Options& o) {
  auto bed = make_bed({"redis+feed x2", true, 2}, o, true);
  constexpr int kB = 1;
  const int k = std::max(1, o.contacts / 20);
  auto a = alice_online(*bed, o);
  Key key = enable(*a, kB, "g0");
  int next = 0;
  // k contacts change; the watcher saw them and every live instance ingested them.
  auto contacts_change = [&](const std::string& why, bool ping_b) {
    for (int i = 0; i < k; ++i)
      bed->contacts[static_cast<std::size_t>((next + i) % o.contacts)]->send_presence(
          "xa", why + " " + std::to_string(next));
    next += k;
    if (count_presence(*bed->w, static_cast<std::size_t>(k), Millis(10000)) !=
        static_cast<std::size_t>(k))
      die("watcher missed broadcasts");
    if (ping_b)
      bed->ping_all(why);
    else if (auto p = iq(*bed->w, jid_of(0), "get", why + "-a", "<ping xmlns='urn:xmpp:ping'/>",
                         Millis(30000));
             !p || p->attr("type") != "result")
      die("ping " + jid_of(0) + " failed");
  };
  auto sync_at_b = [&](GapFigures& g, const std::string& id) {
    a = login(*bed->server, "alice", "r");
    ++g.rounds;
    if (sync_or_login(*a, kB, key, id, static_cast<std::size_t>(k), o, g.sync_ms, g.failures))
      ++g.synced;
    a->abort();
  };
  std::vector<GapFigures> out(3);
  out[0].name = "disconnect " + std::to_string(o.gap_ms) + " ms, k changed meanwhile";
  out[1].name = "restart, k changed after it";
  out[2].name = "restart, k changed while down";
  a->abort();
  for (int r = 0; r < o.gap_rounds; ++r) {
    const auto cut = Clock::now();
    bed->proxy->cut();
    contacts_change("cut" + std::to_string(r), false);
    std::this_thread::sleep_until(cut + Millis(o.gap_ms));
    bed->proxy->resume();
    const auto resumed = Clock::now();
    bed->ready(kB);
    out[0].unready_s.push_back(seconds_since(resumed));
    sync_at_b(out[0], "d" + std::to_string(r));
    progress("own gap: disconnect round " + std::to_string(r) + " done");
  }
  for (int r = 0; r < 2 * o.gap_rounds; ++r) {
    const bool while_down = r % 2 == 1;
    GapFigures& g = out[while_down ? 2 : 1];
    ComponentProcess& b = *bed->instances[kB];
    b.terminate();
    if (while_down) contacts_change("down" + std::to_string(r), false);
    std::string why;
    const auto started = Clock::now();
    if (!b.start(&why)) die(why);
    bed->ready(kB);
    g.unready_s.push_back(seconds_since(started));
    if (!while_down) contacts_change("restart" + std::to_string(r), true);
    sync_at_b(g, "t" + std::to_string(r));
    progress("own gap: restart round " + std::to_string(r) + " done");
  }
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--contacts")
      o.contacts = std::atoi(argv[i + 1]);
    else if (a == "--changes")
      o.changes = std::atoi(argv[i + 1]);
    else if (a == "--rounds")
      o.rounds = std::atoi(argv[i + 1]);
    else if (a == "--csv")
      o.csv = argv[i + 1];
    else if (a == "--gap-rounds")
      o.gap_rounds = std::atoi(argv[i + 1]);
    else if (a == "--gap-ms")
      o.gap_ms = std::atoi(argv[i + 1]);
    else if (a == "--own-gap-only")
      o.own_gap_only = std::string(argv[i + 1]) == "1";
    else
      die("unknown option " + a +
          " (--contacts N --changes K --rounds R --gap-rounds G --gap-ms MS --own-gap-only 0|1"
          " --csv PATH)");
  }
  if (o.contacts < 1 || o.changes < 1 || o.rounds < 1) die("counts must be positive");
  if (o.gap_rounds < 0 || o.gap_ms < 0 || o.gap_ms > 60000)
    die("--gap-rounds >= 0, --gap-ms 0..60000");
  return o;
}

// "cond:n cond:n", or "-" when nothing failed.
std::string failures_text(const std::map<std::string, int>& failures) {
  std::string out;
  for (const auto& [cond, n] : failures)
    out += (out.empty() ? "" : " ") + cond + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

// Ingest rate and sync latency per setup: a table on stdout, rows in the CSV at o.csv.
void report_setups(const Options& o) {
  const std::vector<Setup> setups = {{"sqlite x1", false, 1},
                                     {"redis+feed x1", true, 1},
                                     {"redis+feed x2", true, 2},
                                     {"redis+feed x4", true, 4}};
  std::ofstream csv(o.csv);
  csv << "setup,instances,ingest_presences,ingest_s,ingest_per_s,syncs,sync_p50_ms,sync_p90_ms,"
         "sync_max_ms,failures\n";
  std::printf("%d contacts, %d changes each (ingest), %d sync rounds (1 change each)\n", o.contacts,
              o.changes, o.rounds);
  std::printf("%-16s %12s %10s %8s %10s %10s %10s  %s\n", "setup", "ingest/s", "ingest s", "syncs",
              "p50 ms", "p90 ms", "max ms", "sync failures");
  for (const auto& s : setups) {
    if (o.own_gap_only) break;
    Figures f = run_setup(s, o);
    const std::string failures = failures_text(f.failures);
    std::printf("%-16s %12.0f %10.2f %8zu %10.1f %10.1f %10.1f  %s\n", s.name.c_str(),
                f.ingest_per_s, f.ingest_s, f.sync_ms.size(), percentile(f.sync_ms, 0.5),
                percentile(f.sync_ms, 0.9), percentile(f.sync_ms, 1.0), failures.c_str());
    std::fflush(stdout);
    csv << s.name << "," << s.instances << "," << o.contacts * o.changes << "," << f.ingest_s << ","
        << f.ingest_per_s << "," << f.sync_ms.size() << "," << percentile(f.sync_ms, 0.5) << ","
        << percentile(f.sync_ms, 0.9) << "," << percentile(f.sync_ms, 1.0) << "," << failures
        << "\n";
  }
}

// B's own gap (disconnect, restart) with A observing: a table and <csv>_own_gap.csv.
void report_own_gap(const Options& o) {
  const std::string gap_path =
      (o.csv.size() > 4 && o.csv.ends_with(".csv") ? o.csv.substr(0, o.csv.size() - 4) : o.csv) +
      "_own_gap.csv";
  std::ofstream gap_csv(gap_path);
  gap_csv << "gap,rounds,changes_per_round,synced_at_b,unready_p50_s,unready_max_s,"
             "sync_p50_ms,failures\n";
  const std::vector<GapFigures> gaps = run_own_gap(o);
  std::printf(
      "\nown gap of instance B (redis+feed x2, A observes throughout), %d rounds each,"
      " %d contacts changed per round:\n",
      o.gap_rounds, std::max(1, o.contacts / 20));
  std::printf("%-42s %12s %14s %14s %12s  %s\n", "B's gap", "synced at B", "unready p50 s",
              "unready max s", "sync p50 ms", "failures");
  for (const GapFigures& g : gaps) {
    const std::string failures = failures_text(g.failures);
    std::printf("%-42s %6d of %-3d %14.2f %14.2f %12.1f  %s\n", g.name.c_str(), g.synced, g.rounds,
                percentile(g.unready_s, 0.5), percentile(g.unready_s, 1.0),
                percentile(g.sync_ms, 0.5), failures.c_str());
    gap_csv << g.name << "," << g.rounds << "," << std::max(1, o.contacts / 20) << "," << g.synced
            << "," << percentile(g.unready_s, 0.5) << "," << percentile(g.unready_s, 1.0) << ","
            << percentile(g.sync_ms, 0.5) << "," << failures << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (!ProsodyServer::find_executable() || !RedisServer::find_executable())
    die("needs prosody (with prosody-modules) and redis-server");
  report_setups(o);
  if (o.gap_rounds > 0) report_own_gap(o);
  std::printf("CSV: %s%s\n", o.csv.c_str(), o.gap_rounds > 0 ? " (own gap: *_own_gap.csv)" : "");
  return 0;
}
