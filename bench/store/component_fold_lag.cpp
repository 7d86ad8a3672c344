// SPDX-License-Identifier: MIT
// rpsync_component_fold_lag_bench: the real rpsync-component's event loop while its SQLite
// store folds a log of N resources (default 1,000,000), store calls on the store's worker
// thread (the default, store.queue 256) vs on the loop (store.queue 0), side by side in
// one run.
//
// The store (fold_store.h) is prepared once with the project's SqliteStore; each mode runs
// the component on a copy of it, on one real Prosody (tests/harness). The component loads
// the N resources, connects, and when its re-learn of presence ends (nobody is online)
// takes them all offline (resync.done; the pause that costs the loop is reported, but it
// is the engine's, not the fold's). After --settle-ms (the worker writing those erasures),
// a client (pinger@example.test) sends an XEP-0199 ping to the component's JID through
// Prosody every --interval-ms without waiting for answers (no coordinated omission) and
// records each round trip: for --lead-ms as a baseline, then it sends presence, which tips
// the log over the fold threshold, and goes on until --tail-ms after store.folded (at most
// --window-ms). The component logs its stats line every second (loop_lag_max_ms, the
// largest pause of its loop in that second). Prints per mode: start time, re-learn and
// fold figures (store.folded: records, rows, ms), for the baseline and the fold phase the
// pings sent/answered, p50/p95/max round trip, pings over 50 ms and the largest
// loop_lag_max_ms, the loop thread's CPU time and run-queue wait over the window (/proc
// schedstat: a loop thread that could not get a CPU on a shared machine, as opposed to a
// loop busy with store work), the load average; then the ratios worker/inline.
// Run by hand (not a ctest):
//   build/bin/rpsync_component_fold_lag_bench [--resources N] [--users U] [--window-ms MS]
//       [--interval-ms MS] [--settle-ms MS] [--lead-ms MS] [--tail-ms MS]
//       [--start-timeout-ms MS] [--resync-slice N] [--keep 1]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/store/fold_log.h"
#include "bench/store/fold_store.h"
#include "bench/store/pinger.h"
#include "bench/store/thread_times.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/scenario/component_process.h"

namespace rpsync::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr const char* kComponent = "rpsync.example.test";
constexpr const char* kPassword = "pw";

struct Options {
  FoldStoreSpec store;
  Ms window{90000};          // the longest a mode measures
  Ms interval{10};           // between two pings
  Ms tail{3000};             // measured after store.folded
  Ms settle{5000};           // after the re-learn: the worker writes its erasures
  Ms lead{3000};             // baseline: pings before the presence that tips the log over
  Ms start_timeout{300000};  // from spawn to the first answered ping
  bool keep = false;         // keep the temp dir (stores, component logs)
  std::string resync_slice;  // the component's --resync-slice, empty = its default
};

struct ModeFigures {
  std::string mode;
  bool ok = false;
  std::string why;
  double start_s = 0;    // spawn -> first answered ping (load + connect)
  PingFigures baseline;  // pings sent before the presence that tips the log over
  PingFigures pings;     // pings sent from then on (the fold and the tail after it)
  LogFigures log;
  double window_s = 0;
  ThreadTimes loop;   // the component's loop (main) thread over the window
  double load = 0;    // 1-minute load average at the window's end
  double rss_mb = 0;  // the component's peak resident memory
};

// Waits (bounded) until the component answers a ping: it has loaded its store, is
// connected, and its loop is free. Pings every 100 ms, each waited for up to 2 s.
bool wait_until_answering(test::TestClient& c, test::scenario::ComponentProcess& component,
                          Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; Clock::now() < deadline; ++i) {
    if (!component.alive()) return false;
    if (ping_round_trip(c, kComponent, "ready" + std::to_string(i), Ms(2000))) return true;
    std::this_thread::sleep_for(Ms(100));
  }
  return false;
}

// Waits (bounded) until the component logged the end of its re-learn (resync.done) and
// answers pings again.
bool wait_until_relearned(test::TestClient& c, test::scenario::ComponentProcess& component,
                          Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (count_events(component.log(), "resync.done") == 0) {
    if (Clock::now() >= deadline || !component.alive()) return false;
    std::this_thread::sleep_for(Ms(100));
  }
  return wait_until_answering(c, component, timeout);
}

// The last `n` lines of `log`, for a failure message.
std::string tail_of(const std::string& log, int n) {
  std::size_t at = log.size();
  for (int i = 0; i <= n && at > 0; ++i) at = log.rfind('\n', at - 1);
  return at == std::string::npos ? log : log.substr(at + 1);
}

struct Window {
  std::vector<PingRecord> pings;
  double trigger_ms = -1;  // when the first presence went out (ms after the start)
};

// The measured window: pings from the start (the baseline); after --lead-ms the client's
// presence (the component ingests it: the log tips over 3x the base and the next commit
// folds), again every 500 ms (at most 20 times) until store.folded is logged.
Window measure(test::TestClient& c, test::scenario::ComponentProcess& component, const Options& o) {
  const std::size_t folds_before = count_events(component.log(), "store.folded");
  int presences = 0;
  Ms last_presence{-1000000};
  Window w;
  Pinger pinger(c, kComponent);
  w.pings = pinger.run(o.interval, o.window, o.tail, [&](Ms elapsed) {
    if (count_events(component.log(), "store.folded") > folds_before) return true;
    if (elapsed >= o.lead && presences < 20 && elapsed - last_presence >= Ms(500)) {
      if (presences == 0) w.trigger_ms = static_cast<double>(elapsed.count());
      (void)c.send_presence("", "fold " + std::to_string(++presences));
      last_presence = elapsed;
    }
    return false;
  });
  return w;
}

// The window measured on the running component, then the component stopped: pings, its
// loop thread's CPU times, the figures of its log.
void measure_mode(ModeFigures& f, test::TestClient& c, test::scenario::ComponentProcess& component,
                  const Options& o) {
  const std::size_t folds_before = count_events(component.log(), "store.folded");
  const pid_t pid = component.pid();
  const ThreadTimes before = thread_times(pid, pid);
  const auto wall = std::chrono::system_clock::now();
  const auto t0 = Clock::now();
  const Window w = measure(c, component, o);
  f.window_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const ThreadTimes after = thread_times(pid, pid);
  f.loop = {after.run_ms - before.run_ms, after.wait_ms - before.wait_ms, before.ok && after.ok};
  f.load = load_average();
  f.rss_mb = peak_rss_mb(pid);
  const double trigger = w.trigger_ms < 0 ? 1e18 : w.trigger_ms;
  f.baseline = figures_of(w.pings, 0, trigger);
  f.pings = figures_of(w.pings, trigger, 1e18);
  component.terminate();
  // Stats lines from 1 s into the window (each covers the second before it).
  const auto at = [&](double ms) {
    return log_stamp(wall + std::chrono::milliseconds(static_cast<long long>(ms)));
  };
  f.log = read_log_figures(component.log(), at(1000), at(std::min(trigger, 1e12)));
  f.ok = f.log.folds > folds_before && w.trigger_ms >= 0;
  if (!f.ok) f.why = "no fold within the window:\n" + tail_of(component.log(), 12);
}

// One mode: the component on a fresh copy of the prepared store, measured, then stopped.
ModeFigures run_mode(const std::string& mode, const std::vector<std::string>& args,
                     test::ProsodyServer& server, const std::string& prepared, const fs::path& dir,
                     const Options& o) {
  ModeFigures f;
  f.mode = mode;
  fs::create_directories(dir);
  fs::copy_file(prepared, dir / "rpsync.db");
  test::scenario::ComponentSpec spec;
  spec.extra_args = args;
  spec.extra_args.insert(spec.extra_args.end(), {"--stats-interval", "1", "--log-level", "info"});
  if (!o.resync_slice.empty())
    spec.extra_args.insert(spec.extra_args.end(), {"--resync-slice", o.resync_slice});
  test::scenario::ComponentProcess component(dir.string(), server.component_port(), spec);
  std::string why;
  auto client =
      test::TestClient::login(server.c2s_port(), "pinger", "example.test", kPassword, mode, &why);
  const auto spawned = Clock::now();
  if (!client || !component.start(&why)) {
    f.why = "start: " + why;
    return f;
  }
  if (!wait_until_answering(*client, component, o.start_timeout)) {
    f.why = "no answer to a ping within the start timeout:\n" + tail_of(component.log(), 12);
    return f;
  }
  f.start_s = std::chrono::duration<double>(Clock::now() - spawned).count();
  if (!wait_until_relearned(*client, component, o.start_timeout)) {
    f.why = "no resync.done within the start timeout:\n" + tail_of(component.log(), 12);
    return f;
  }
  std::this_thread::sleep_for(o.settle);
  measure_mode(f, *client, component, o);
  return f;
}

void print_pings(const char* mode, const char* phase, const PingFigures& p, double lag,
                 std::size_t lines) {
  std::printf(
      "%-7s %-8s pings_sent=%zu answered=%zu errors=%zu over_50ms=%zu p50_ms=%.1f p95_ms=%.1f "
      "max_ms=%.1f loop_lag_max_ms=%.0f (%zu stats lines)\n",
      mode, phase, p.sent, p.answered, p.errors, p.over(50), p.percentile(50), p.percentile(95),
      p.max(), lag, lines);
}

void print(const ModeFigures& f) {
  if (!f.ok) {
    std::printf("%-7s FAILED: %s\n", f.mode.c_str(), f.why.c_str());
    return;
  }
  const LogFigures& l = f.log;
  std::printf(
      "%-7s start_s=%.1f resync_gone=%llu resync_slices=%zu resync_end_ms=%.0f "
      "resync_pause_ms=%.0f loop_lag_run_max_ms=%.0f\n",
      f.mode.c_str(), f.start_s, static_cast<unsigned long long>(l.resync_gone), l.resync_slices,
      l.resync_end_ms, l.resync_pause_ms, l.loop_lag_run_max_ms);
  std::printf("%-7s fold_ms=%.0f fold_log_records=%llu fold_rows=%llu\n", f.mode.c_str(), l.fold_ms,
              static_cast<unsigned long long>(l.fold_log_records),
              static_cast<unsigned long long>(l.fold_rows));
  print_pings(f.mode.c_str(), "baseline", f.baseline, l.loop_lag_base_max_ms, l.base_lines);
  print_pings(f.mode.c_str(), "fold", f.pings, l.loop_lag_max_ms, l.fold_lines);
  std::printf(
      "%-7s window_s=%.1f loop_thread_cpu_ms=%.0f loop_thread_cpu_wait_ms=%.0f load1=%.2f "
      "component_peak_rss_mb=%.0f\n",
      f.mode.c_str(), f.window_s, f.loop.run_ms, f.loop.wait_ms, f.load, f.rss_mb);
}

void print_ratios(const ModeFigures& worker, const ModeFigures& in_loop) {
  if (!worker.ok || !in_loop.ok) return;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf(
      "ratio worker/inline: loop_lag_max %.4f, ping max %.4f, ping p95 %.3f, fold_ms %.2f\n",
      ratio(worker.log.loop_lag_max_ms, in_loop.log.loop_lag_max_ms),
      ratio(worker.pings.max(), in_loop.pings.max()),
      ratio(worker.pings.percentile(95), in_loop.pings.percentile(95)),
      ratio(worker.log.fold_ms, in_loop.log.fold_ms));
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--resources")
      o.store.resources = static_cast<std::size_t>(v);
    else if (k == "--users")
      o.store.users = static_cast<std::size_t>(v);
    else if (k == "--window-ms")
      o.window = Ms(v);
    else if (k == "--interval-ms")
      o.interval = Ms(std::max(1LL, v));
    else if (k == "--tail-ms")
      o.tail = Ms(v);
    else if (k == "--lead-ms")
      o.lead = Ms(v);
    else if (k == "--settle-ms")
      o.settle = Ms(v);
    else if (k == "--start-timeout-ms")
      o.start_timeout = Ms(v);
    else if (k == "--resync-slice")
      o.resync_slice = std::to_string(v);
    else if (k == "--keep")
      o.keep = v != 0;
    else
      std::fprintf(stderr, "ignored unknown option %s\n", k.c_str());
  }
  return o;
}

int run(const Options& o) {
  char tmpl[] = "/tmp/rpsync-fold-lag-XXXXXX";
  if (!mkdtemp(tmpl)) return std::perror("mkdtemp"), 1;
  const fs::path dir = tmpl;
  const std::string prepared = (dir / "prepared.db").string();
  const auto t0 = Clock::now();
  if (Status s = prepare_fold_store(prepared, o.store); !s) {
    std::fprintf(stderr, "prepare: %s\n", s.message().c_str());
    fs::remove_all(dir);
    return 1;
  }
  std::printf("prepared %zu resources, %zu users in %.1f s (%s, %.0f MB)\n", o.store.resources,
              o.store.users, std::chrono::duration<double>(Clock::now() - t0).count(),
              prepared.c_str(), static_cast<double>(fs::file_size(prepared)) / 1e6);
  std::string why;
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
  if (server) server->add_user("pinger", "example.test", kPassword);
  if (!server || !server->launch()) {
    std::fprintf(stderr, "prosody: %s\n", server ? server->log().c_str() : why.c_str());
    fs::remove_all(dir);
    return 1;
  }
  std::fflush(stdout);
  const ModeFigures worker = run_mode("worker", {}, *server, prepared, dir / "worker", o);
  print(worker);
  std::fflush(stdout);
  const ModeFigures in_loop =
      run_mode("inline", {"--store-queue", "0"}, *server, prepared, dir / "inline", o);
  print(in_loop);
  print_ratios(worker, in_loop);
  server.reset();
  if (o.keep)
    std::printf("kept %s\n", dir.c_str());
  else
    fs::remove_all(dir);
  return worker.ok && in_loop.ok ? 0 : 1;
}

}  // namespace
}  // namespace rpsync::bench

int main(int argc, char** argv) {
  return rpsync::bench::run(rpsync::bench::parse(argc, argv));
}
