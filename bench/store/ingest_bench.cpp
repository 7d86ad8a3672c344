// SPDX-License-Identifier: MIT
// Durable ingest: presence updates per second through the engine into the SQLite store
// (WAL, batched commits, fsync per commit), and on-disk bytes per resource.
// Run: build-*/bin/rpsync_store_bench [--benchmark_filter=...]
// The database lives in $TMPDIR (default /tmp) and is removed afterwards.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "bench/core/workload.h"
#include "plugin/core/engine.h"
#include "plugin/store/store.h"

namespace rpsync::bench {
namespace {

std::filesystem::path temp_db(const char* tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("rpsync-bench-" + std::to_string(::getpid()) + "-" + tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir / "rpsync.db";
}

std::uintmax_t size_with_wal(const std::filesystem::path& db) {
  std::uintmax_t n = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto s = std::filesystem::file_size(db.string() + suffix, ec);
    if (!ec) n += s;
  }
  return n;
}

// `n` resources loaded (and persisted) first; then random updates, each a real change,
// handed to the store every 256 updates (the component's event-loop batch), with the
// store committing every 20,000 mutations or 50 ms; the final flush is inside the timing.
void BM_IngestSqlite(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const bool full_sync = state.range(1) != 0;
  Population pop(n);
  const auto db = temp_db("ingest");
  store::StoreOptions so;
  so.synchronous_full = full_sync;
  auto opened = store::open_store("sqlite:" + db.string(), so);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().message().c_str());
    return;
  }
  auto& s = *opened.value();
  core::EngineOptions eo;
  eo.clock = [] { return std::int64_t{0}; };
  core::Engine e(eo);
  e.restore(*s.load());
  for (std::size_t i = 0; i < n; ++i) e.observe_available(pop.jids[i], pop.a[i]);
  for (std::size_t u = 0; u < 1000; ++u) {
    std::vector<std::string> roster;
    for (std::size_t c = 0; c < 100; ++c)
      roster.push_back(contact_jid((u * 37 + c) % pop.contacts()));
    std::string user = "user" + std::to_string(u) + "@example.org";
    e.set_roster(user, roster);
    (void)e.enable(user, "s", "r", "e");
  }
  (void)s.write(e.take_changes());
  (void)s.flush();
  std::mt19937 rng(1);
  std::vector<std::uint8_t> flip(n, 0);
  std::size_t k = 0;
  for (auto _ : state) {
    std::size_t i = rng() % n;
    flip[i] ^= 1;
    e.observe_available(pop.jids[i], flip[i] ? pop.b[i] : pop.a[i]);
    if (++k % 256 == 0 && !s.write(e.take_changes()).ok()) state.SkipWithError("write failed");
  }
  if (!s.write(e.take_changes()).ok() || !s.flush().ok()) state.SkipWithError("flush failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  opened.value().reset();  // close: checkpoints the WAL into the main file
  state.counters["disk_bytes_per_resource"] =
      static_cast<double>(size_with_wal(db)) / static_cast<double>(n);
  std::filesystem::remove_all(db.parent_path());
}
BENCHMARK(BM_IngestSqlite)
    ->ArgNames({"resources", "fsync"})
    ->Args({10'000, 1})
    ->Args({100'000, 1})
    ->Args({1'000'000, 1})
    ->Args({100'000, 0})
    ->Iterations(1'000'000)
    ->Unit(benchmark::kMillisecond);

// On-disk bytes per available resource once the presence log is folded into the base
// (the steady state between folds is up to 4x this: base + log of 3x base).
void BM_DiskPerResource(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double per = 0;
  for (auto _ : state) {
    Population pop(n);
    const auto db = temp_db("disk");
    store::StoreOptions so;
    so.synchronous_full = false;
    so.compact_min_log = 0;  // fold at the first commit
    so.batch_records = n + 1;
    {
      auto opened = store::open_store("sqlite:" + db.string(), so);
      if (!opened.ok()) {
        state.SkipWithError(opened.status().message().c_str());
        return;
      }
      core::EngineOptions eo;
      eo.clock = [] { return std::int64_t{0}; };
      core::Engine e(eo);
      for (std::size_t i = 0; i < n; ++i) e.observe_available(pop.jids[i], pop.a[i]);
      if (!opened.value()->write(e.take_changes()).ok() || !opened.value()->flush().ok())
        state.SkipWithError("write failed");
    }
    per = static_cast<double>(size_with_wal(db)) / static_cast<double>(n);
    std::filesystem::remove_all(db.parent_path());
  }
  state.counters["disk_bytes_per_resource"] = per;
}
BENCHMARK(BM_DiskPerResource)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// A flush() as the component does before acknowledging a checkpoint: one small commit.
void BM_CheckpointFlush(benchmark::State& state) {
  const bool full_sync = state.range(0) != 0;
  const auto db = temp_db("flush");
  store::StoreOptions so;
  so.synchronous_full = full_sync;
  auto opened = store::open_store("sqlite:" + db.string(), so);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().message().c_str());
    return;
  }
  auto& s = *opened.value();
  core::EngineOptions eo;
  eo.clock = [] { return std::int64_t{0}; };
  core::Engine e(eo);
  e.set_roster("user@example.org", {"a@x"});
  (void)e.enable("user@example.org", "s", "r", "c0");
  std::size_t k = 0;
  for (auto _ : state) {
    (void)e.checkpoint("user@example.org", "s", "r", "c" + std::to_string(k),
                       "c" + std::to_string(k + 1));
    ++k;
    if (!s.write(e.take_changes()).ok() || !s.flush().ok()) state.SkipWithError("flush failed");
  }
  opened.value().reset();
  std::filesystem::remove_all(db.parent_path());
}
BENCHMARK(BM_CheckpointFlush)->ArgName("fsync")->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rpsync::bench

BENCHMARK_MAIN();
