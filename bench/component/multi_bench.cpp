// rpsync_multi_bench (issue 6): presence ingest rate and sync latency of rpsync-component
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

#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/harness/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/harness_redis/redis_server.h"
#include "tests/scenario/component_process.h"

namespace {

namespace fs = std::filesystem;
using rpsync::test::ProsodyServer;
using rpsync::test::RedisServer;
using rpsync::test::TestClient;
using rpsync::test::scenario::ComponentProcess;
using rpsync::test::scenario::ComponentSpec;
using rpsync::xml::Element;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr const char* kHost = "example.test";
constexpr const char* kPassword = "pw";
constexpr int kMaxInstances = 4;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_multi_bench: %s\n", why.c_str());
  std::exit(3);
}
void progress(const std::string& s) {
  std::fprintf(stderr, "[multi] %s\n", s.c_str());
}
std::string jid_of(int i) {
  return "rpsync-m" + std::to_string(i) + ".example.test";
}
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Options {
  int contacts = 200;
  int changes = 5;
  int rounds = 20;
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
    if (a && (a->attr("type") == "result" || app_condition(*a) != "not-ready")) return true;
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

Figures run_setup(const Setup& setup, const Options& o) {
  rpsync::test::ProsodyOptions po;
  po.hosts = {kHost};
  po.component_jid = jid_of(0);
  std::string why;
  auto server = ProsodyServer::create(po, &why);
  if (!server) die(why);
  patch_prosody(*server);
  const std::string alice = std::string("alice@") + kHost, watcher = std::string("w@") + kHost;
  for (const char* u : {"alice", "w", "probe"}) server->add_user(u, kHost, kPassword);
  for (int i = 0; i < o.contacts; ++i) {
    const std::string c = "c" + std::to_string(i);
    server->add_user(c, kHost, kPassword);
    server->add_roster_item(alice, c + "@" + kHost, "both");
    server->add_roster_item(c + "@" + kHost, alice, "both");
    server->add_roster_item(watcher, c + "@" + kHost, "to");
    server->add_roster_item(c + "@" + kHost, watcher, "from");
  }
  if (!server->launch()) die("prosody did not start:\n" + server->log());
  std::unique_ptr<RedisServer> redis;
  if (setup.redis) {
    redis = RedisServer::start({}, &why);
    if (!redis) die("redis: " + why);
  }
  std::vector<std::unique_ptr<ComponentProcess>> instances;
  for (int i = 0; i < setup.instances; ++i) {
    const fs::path dir = fs::path(server->dir()) / ("instance-" + std::to_string(i));
    fs::create_directories(dir);
    ComponentSpec spec;
    spec.component_jid = jid_of(i);
    spec.extra_args = {"--log-level", "info", "--requests-per-minute", "100000"};
    if (setup.redis)
      spec.extra_args.insert(spec.extra_args.end(),
                             {"--store", redis->uri(0, "rpsync"), "--instance-id",
                              "m" + std::to_string(i), "--heartbeat-ttl-ms", "3000"});
    instances.push_back(
        std::make_unique<ComponentProcess>(dir.string(), server->component_port(), spec));
    if (!instances.back()->start(&why)) die(why);
  }
  auto probe = login(*server, "probe", "p");
  for (int i = 0; i < setup.instances; ++i)
    if (!wait_ready(*probe, jid_of(i), *instances[static_cast<std::size_t>(i)]))
      die(jid_of(i) + " not ready:\n" + instances[static_cast<std::size_t>(i)]->log());

  std::vector<std::unique_ptr<TestClient>> contacts;
  for (int i = 0; i < o.contacts; ++i) {
    contacts.push_back(login(*server, "c" + std::to_string(i), "r"));
    contacts.back()->send_presence("", "hello");
  }
  auto w = login(*server, "w", "r");
  w->send_presence();
  count_presence(*w, static_cast<std::size_t>(o.contacts), Millis(20000));
  auto ping_all = [&](const std::string& tag) {
    for (int i = 0; i < setup.instances; ++i) {
      auto a = iq(*w, jid_of(i), "get", tag + std::to_string(i), "<ping xmlns='urn:xmpp:ping'/>",
                  Millis(30000));
      if (!a || a->attr("type") != "result") die("ping " + jid_of(i) + " failed");
    }
  };
  ping_all("settle");

  Figures f;
  // --- ingest ---
  const std::size_t total =
      static_cast<std::size_t>(o.contacts) * static_cast<std::size_t>(o.changes);
  const auto t0 = Clock::now();
  for (int k = 0; k < o.changes; ++k)
    for (int i = 0; i < o.contacts; ++i)
      contacts[static_cast<std::size_t>(i)]->send_presence(
          k % 2 ? "away" : "dnd", "burst " + std::to_string(k) + " of " + std::to_string(i));
  if (count_presence(*w, total, Millis(60000)) != total) die("watcher missed broadcasts");
  ping_all("ingested");
  f.ingest_s = seconds_since(t0);
  f.ingest_per_s = static_cast<double>(total) / f.ingest_s;
  progress(setup.name + ": ingest " + std::to_string(total) + " presences in " +
           std::to_string(f.ingest_s) + " s");

  // --- sync ---
  auto a = login(*server, "alice", "r");
  a->send_presence();
  count_presence(*a, static_cast<std::size_t>(o.contacts), Millis(20000));
  auto enabled =
      iq(*a, jid_of(0), "set", "e0",
         "<enable xmlns='urn:xmpp:rpsync:0' stream='" + a->stream_id() + "'/>", Millis(10000));
  if (!enabled || enabled->attr("type") != "result") die("enable failed");
  std::string key_stream = a->stream_id(), key_last = "e0";
  std::this_thread::sleep_for(Millis(100));  // the session's feed entry reaches every peer
  for (int r = 0; r < o.rounds; ++r) {
    a->abort();
    auto& c = *contacts[static_cast<std::size_t>(r % o.contacts)];
    c.send_presence("xa", "round " + std::to_string(r));
    count_presence(*w, 1, Millis(10000));
    ping_all("round" + std::to_string(r) + "-");
    a = login(*server, "alice", "r");
    const int at = r % setup.instances;
    const std::string id = "s" + std::to_string(r);
    const auto t = Clock::now();
    auto answer =
        iq(*a, jid_of(at), "set", id,
           "<sync xmlns='urn:xmpp:rpsync:0' stream='" + a->stream_id() + "'><key stream='" +
               key_stream + "' resource='r' last='" + key_last + "'/></sync>",
           Millis(10000));
    const double ms = seconds_since(t) * 1000;
    if (!answer) die("sync timed out");
    if (answer->attr("type") == "result") {
      const Element* delta = answer->child("delta", rpsync::ns::kRpsync);
      if (!delta || delta->children().size() != 1) die("delta with the wrong number of items");
      f.sync_ms.push_back(ms);
      key_stream = a->stream_id();
      key_last = id;
    } else {
      ++f.failures[app_condition(*answer)];
      a->send_presence();
      count_presence(*a, static_cast<std::size_t>(o.contacts), Millis(20000));
      const std::string eid = "e" + std::to_string(r + 1);
      auto again =
          iq(*a, jid_of(at), "set", eid,
             "<enable xmlns='urn:xmpp:rpsync:0' stream='" + a->stream_id() + "'/>", Millis(10000));
      if (!again || again->attr("type") != "result") die("re-enable failed");
      key_stream = a->stream_id();
      key_last = eid;
    }
    std::this_thread::sleep_for(Millis(50));  // let the key's entry reach the next instance
  }
  for (auto& p : instances) p->terminate();
  return f;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
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
    else
      die("unknown option " + a + " (--contacts N --changes K --rounds R --csv PATH)");
  }
  if (o.contacts < 1 || o.changes < 1 || o.rounds < 1) die("counts must be positive");
  if (!ProsodyServer::find_executable() || !RedisServer::find_executable())
    die("needs prosody (with prosody-modules) and redis-server");
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
    Figures f = run_setup(s, o);
    std::string failures;
    for (const auto& [cond, n] : f.failures)
      failures += (failures.empty() ? "" : " ") + cond + ":" + std::to_string(n);
    if (failures.empty()) failures = "-";
    std::printf("%-16s %12.0f %10.2f %8zu %10.1f %10.1f %10.1f  %s\n", s.name.c_str(),
                f.ingest_per_s, f.ingest_s, f.sync_ms.size(), percentile(f.sync_ms, 0.5),
                percentile(f.sync_ms, 0.9), percentile(f.sync_ms, 1.0), failures.c_str());
    std::fflush(stdout);
    csv << s.name << "," << s.instances << "," << o.contacts * o.changes << "," << f.ingest_s << ","
        << f.ingest_per_s << "," << f.sync_ms.size() << "," << percentile(f.sync_ms, 0.5) << ","
        << percentile(f.sync_ms, 0.9) << "," << percentile(f.sync_ms, 1.0) << "," << failures
        << "\n";
  }
  std::printf("CSV: %s\n", o.csv.c_str());
  return 0;
}
