// SPDX-License-Identifier: MIT
// rpsync_large_roster_bench: the sync round trip and the component's memory for a user
// with a large roster, on a real Prosody with the real rpsync-component process, for
// several roster sizes in one run (README.md). The world is the large-roster scenario's
// (tests/scenario/large_roster.h): alice with `live` real contacts (mutual, online, the
// ones that change) and roster-only contacts up to N.
//
// Per N, a fresh Prosody and component (sqlite store):
//   memory "start": VmRSS/VmHWM of the component once it answers requests, before alice's
//     roster exists;
//   alice logs in (initial presence, the flood), gets her own roster (baseline: what the
//     component fetches with a privileged IQ on every request) and enables (timed);
//     memory "enabled";
//   per k in --changes, --rounds rounds: alice closes her session, k live contacts change
//     status (each settled with a ping), alice logs in and syncs with her last key; the time
//     from sending <sync/> to the <delta/> is taken at the client and the delta must hold
//     exactly k items; memory "synced" after every round of every k.
// Loopback only, every wait bounded (30 s per answer, 120 s for the login flood); exits 3 when a
// delta has the wrong size or a request fails.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/common/figures.h"
#include "bench/common/timing.h"
#include "tests/scenario/large_roster.h"

namespace {

using rpsync::bench::Clock;
using rpsync::bench::ms_between;
using rpsync::bench::percentile;
using rpsync::bench::progress;
using rpsync::test::ProsodyServer;
using namespace rpsync::test::scenario;

constexpr const char* kAlice = "alice@example.test";
constexpr int kMaxContacts = 50000;
constexpr int kMaxRounds = 200;
constexpr Millis kAnswerWait{
    30000};  // one request's answer (the component's roster timeout is 10 s)

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_large_roster_bench: %s\n", why.c_str());
  std::exit(3);
}

struct Options {
  std::vector<int> contacts{500, 5000, 20000};
  std::vector<int> changes{0, 1, 100};
  int rounds = 10;
  bool gate = false;  // mod_rpsync_gate on Prosody: the component's roster cache is used
  std::string csv = std::string(RPSYNC_BENCH_OUT_DIR) + "/bench_large_roster.csv";
};

struct Memory {
  long rss_kib = -1, hwm_kib = -1;
};

struct Row {
  int contacts = 0;
  std::size_t flood = 0, roster_bytes = 0;
  double flood_ms = 0, roster_ms = 0, enable_ms = 0;
  Memory start, enabled, synced;
  std::map<int, std::vector<double>> sync_ms;  // k -> samples
};

std::vector<int> int_list(const std::string& s, int lo, int hi, const char* flag) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    const int v = std::atoi(item.c_str());
    if (v < lo || v > hi)
      die(std::string(flag) + ": " + item + " is outside " + std::to_string(lo) + ".." +
          std::to_string(hi));
    out.push_back(v);
  }
  if (out.empty()) die(std::string(flag) + ": empty list");
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--contacts")
      o.contacts = int_list(value(), 1, kMaxContacts, "--contacts");
    else if (a == "--changes")
      o.changes = int_list(value(), 0, 1000, "--changes");
    else if (a == "--rounds")
      o.rounds = int_list(value(), 1, kMaxRounds, "--rounds")[0];
    else if (a == "--gate")
      o.gate = true;
    else if (a == "--csv")
      o.csv = value();
    else
      die("usage: rpsync_large_roster_bench [--contacts N,N..] [--changes K,K..] "
          "[--rounds R] [--gate] [--csv PATH]");
  }
  return o;
}

Memory memory_of(pid_t pid) {
  Memory m;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = std::stol(line.substr(6));
  }
  return m;
}

int live_count(const Options& o) {
  int k = 1;
  for (int c : o.changes) k = std::max(k, c);
  return k;
}

std::vector<std::string> live_names(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("l" + std::to_string(i) + "@example.test");
  return out;
}

}  // namespace

namespace {

// A session of `bare`, or exit 3.
std::unique_ptr<Party> login(World<ProsodyServer>& w, const std::string& bare,
                             const std::string& resource) {
  std::string why;
  auto p = w.login(bare, resource, &why);
  if (!p) die(bare + "/" + resource + " cannot log in: " + why);
  return p;
}

std::unique_ptr<World<ProsodyServer>> start_world(const Options& o,
                                                  const std::vector<std::string>& live) {
  WorldSpec spec = large_roster_spec(kAlice, live);
  spec.rpsync_gate = o.gate;
  spec.component.extra_args = {"--requests-per-minute", "100000"};
  std::string why;
  bool not_installed = false;
  auto w = World<ProsodyServer>::start(std::move(spec), &why, &not_installed);
  if (!w) die("world did not start: " + why);
  return w;
}

// The live contacts come online (each settled), in a stable order.
std::vector<std::unique_ptr<Party>> live_online(World<ProsodyServer>& w,
                                                const std::vector<std::string>& live) {
  std::vector<std::unique_ptr<Party>> out;
  for (const auto& bare : live) {
    out.push_back(login(w, bare, "pc"));
    if (!out.back()->sends_presence(shows(rpsync::proto::Show::kAway, "start")) ||
        !out.back()->settles(kAnswerWait))
      die(bare + ": presence not processed");
  }
  return out;
}

// alice's full login, her own roster get (timed) and her enable (timed).
std::unique_ptr<Party> alice_enables(World<ProsodyServer>& w, Row& row) {
  auto a = login(w, kAlice, "phone");
  auto t0 = Clock::now();
  Flood flood = a->sends_presence_and_collects_flood({}, Millis(0), Millis(120000));
  row.flood_ms = ms_between(t0, Clock::now());
  if (!flood.complete) die("alice's flood did not complete");
  row.flood = flood.presences;
  t0 = Clock::now();
  Answer roster = a->sends_iq("", "get", rpsync::xml::Element("query", "jabber:iq:roster"),
                              "roster-1", kAnswerWait);
  row.roster_ms = ms_between(t0, Clock::now());
  if (!roster.ok()) die("alice's roster get: " + roster.describe());
  row.roster_bytes = roster.bytes;
  t0 = Clock::now();
  Answer enabled =
      a->sends_iq(w.component_jid(), "set",
                  rpsync::proto::to_xml(rpsync::proto::Enable{a->stream_id()}), "e1", kAnswerWait);
  row.enable_ms = ms_between(t0, Clock::now());
  if (!enabled.ok()) die("enable: " + enabled.describe() + "\n" + w.component().log());
  return a;
}

}  // namespace

namespace {

// One round: alice away, k live contacts change, alice syncs with `last`; returns the new
// last id.
std::string sync_round(World<ProsodyServer>& w, std::unique_ptr<Party>& a,
                       std::vector<std::unique_ptr<Party>>& live, int k, int round,
                       const std::string& last, Row& row) {
  const rpsync::proto::SyncKey key = a->key(last);
  a->closes();
  const std::string status = "k" + std::to_string(k) + "r" + std::to_string(round);
  for (int i = 0; i < k; ++i)
    if (!live[static_cast<std::size_t>(i)]->sends_presence(
            shows(rpsync::proto::Show::kDnd, status)) ||
        !live[static_cast<std::size_t>(i)]->settles(kAnswerWait))
      die("a live contact's change was not processed");
  a = login(w, kAlice, "phone");
  const std::string id = "s" + std::to_string(k) + "-" + std::to_string(round);
  auto t0 = Clock::now();
  Answer answer =
      a->sends_iq(w.component_jid(), "set",
                  rpsync::proto::to_xml(rpsync::proto::Sync{a->stream_id(), key}), id, kAnswerWait);
  row.sync_ms[k].push_back(ms_between(t0, Clock::now()));
  std::string why;
  auto delta = delta_of(answer, &why);
  if (!delta) die("sync: " + why + "\n" + w.component().log());
  if (delta->items() != static_cast<std::size_t>(k))
    die("sync with " + std::to_string(k) + " changes answered " + std::to_string(delta->items()) +
        " items: " + describe(*delta));
  return id;
}

Row run_one(const Options& o, int contacts) {
  const std::vector<std::string> live = live_names(live_count(o));
  if (contacts < static_cast<int>(live.size()))
    die("--contacts " + std::to_string(contacts) + " is below the largest --changes");
  Row row;
  row.contacts = contacts;
  progress("N=" + std::to_string(contacts) + ": starting Prosody and the component");
  auto w = start_world(o, live);
  const pid_t pid = w->component().pid();
  row.start = memory_of(pid);
  std::string why;
  const int offline = contacts - static_cast<int>(live.size());
  if (!add_offline_contacts(w->server(), kAlice, numbered_contacts(offline, "example.test"), &why))
    die("roster: " + why);
  auto parties = live_online(*w, live);
  auto a = alice_enables(*w, row);
  row.enabled = memory_of(pid);
  progress("N=" + std::to_string(contacts) + ": enabled in " +
           std::to_string(static_cast<int>(row.enable_ms)) + " ms; sync rounds");
  std::string last = "e1";
  for (int k : o.changes)
    for (int r = 0; r < o.rounds; ++r) last = sync_round(*w, a, parties, k, r, last, row);
  row.synced = memory_of(pid);
  if (!w->component().alive()) die("the component exited:\n" + w->component().log());
  return row;
}

}  // namespace

namespace {

std::string cell(const std::vector<double>& xs) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f (%.1f)", percentile(xs, 0.5), percentile(xs, 0.95));
  return buf;
}

void print(const Options& o, const std::vector<Row>& rows) {
  std::printf("\nrpsync_large_roster_bench: %d rounds per k, gate %s; ms median (p95)\n", o.rounds,
              o.gate ? "on" : "off");
  std::printf("| contacts | login flood: stanzas, ms | roster get ms (bytes) | enable ms |");
  for (int k : o.changes) std::printf(" sync k=%d ms |", k);
  std::printf(" VmRSS KiB start / enabled / synced | VmHWM KiB start / enabled / synced |\n");
  std::printf("|---:|---:|---:|---:|");
  for (std::size_t i = 0; i < o.changes.size(); ++i) std::printf("---:|");
  std::printf("---:|---:|\n");
  for (const auto& r : rows) {
    std::printf("| %d | %zu, %.1f | %.1f (%zu) | %.1f |", r.contacts, r.flood, r.flood_ms,
                r.roster_ms, r.roster_bytes, r.enable_ms);
    for (int k : o.changes) std::printf(" %s |", cell(r.sync_ms.at(k)).c_str());
    std::printf(" %ld / %ld / %ld | %ld / %ld / %ld |\n", r.start.rss_kib, r.enabled.rss_kib,
                r.synced.rss_kib, r.start.hwm_kib, r.enabled.hwm_kib, r.synced.hwm_kib);
  }
  std::fflush(stdout);
}

void write_csv(const Options& o, const std::vector<Row>& rows) {
  std::ofstream csv(o.csv, std::ios::trunc);
  csv << "contacts,gate,phase,k,value\n";
  const char* gate = o.gate ? "on" : "off";
  for (const auto& r : rows) {
    const std::string head = std::to_string(r.contacts) + "," + gate + ",";
    csv << head << "flood_ms,," << r.flood_ms << "\n"
        << head << "roster_get_ms,," << r.roster_ms << "\n"
        << head << "enable_ms,," << r.enable_ms << "\n";
    for (const auto& [k, xs] : r.sync_ms)
      for (double x : xs) csv << head << "sync_ms," << k << "," << x << "\n";
    const std::pair<const char*, const Memory*> mem[] = {
        {"start", &r.start}, {"enabled", &r.enabled}, {"synced", &r.synced}};
    for (const auto& [name, m] : mem)
      csv << head << "vmrss_kib_" << name << ",," << m->rss_kib << "\n"
          << head << "vmhwm_kib_" << name << ",," << m->hwm_kib << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<Row> rows;
  for (int n : o.contacts) rows.push_back(run_one(o, n));
  print(o, rows);
  write_csv(o, rows);
  progress("CSV: " + o.csv);
  return 0;
}
