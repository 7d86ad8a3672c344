// SPDX-License-Identifier: MIT
// Engine benchmarks (no store): delta latency by roster size and change rate, how it
// grows with the total number of tracked resources, in-memory ingest rate, and memory
// per tracked resource. Run: build-*/bin/rpsync_engine_bench
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <random>

#include "bench/core/workload.h"
#include "plugin/core/engine.h"

namespace rpsync::bench {
namespace {

core::EngineOptions options(std::size_t max_sessions = 8) {
  core::EngineOptions o;
  o.journal = false;
  o.max_sessions_per_user = max_sessions;
  o.clock = [] { return std::int64_t{0}; };
  return o;
}

// Delta for one user whose roster has `roster` contacts (2 resources each, all online),
// `permille` of its resources changed since the key; the engine tracks `total` resources.
void BM_Delta(benchmark::State& state) {
  const auto roster = static_cast<std::size_t>(state.range(0));
  const auto permille = static_cast<std::size_t>(state.range(1));
  const auto total = std::max(static_cast<std::size_t>(state.range(2)), 2 * roster);
  const auto iters = static_cast<std::size_t>(state.max_iterations);
  Population pop(total);
  core::Engine e(options(iters + 8));
  for (std::size_t i = 0; i < total; ++i) e.observe_available(pop.jids[i], pop.a[i]);
  std::vector<std::string> contacts;
  for (std::size_t c = 0; c < roster; ++c) contacts.push_back(contact_jid(c));
  e.set_roster("user@example.org", contacts);
  for (std::size_t k = 0; k < iters; ++k)
    (void)e.enable("user@example.org", "s" + std::to_string(k), "r", "e");
  // Change permille of the roster's resources (plus the same share of the rest).
  std::mt19937 rng(7);
  const std::size_t changes = total * permille / 1000;
  for (std::size_t k = 0; k < changes; ++k) {
    std::size_t i = rng() % total;
    e.observe_available(pop.jids[i], pop.b[i]);
  }
  std::size_t k = 0, items = 0;
  for (auto _ : state) {
    auto d = e.sync("user@example.org", "n" + std::to_string(k), "r", "y",
                    {"s" + std::to_string(k), "r", "e"});
    if (!d.ok()) state.SkipWithError(std::string(proto::to_string(d.error().app)).c_str());
    items = d.ok() ? d->items() : 0;
    benchmark::DoNotOptimize(d);
    ++k;
  }
  state.counters["delta_items"] = static_cast<double>(items);
  state.counters["roster_resources"] = static_cast<double>(2 * roster);
}
BENCHMARK(BM_Delta)
    ->ArgNames({"contacts", "permille", "total"})
    ->Args({250, 0, 0})
    ->Args({250, 10, 0})
    ->Args({250, 100, 0})  // 500 resources
    ->Args({2500, 0, 0})
    ->Args({2500, 10, 0})
    ->Args({2500, 100, 0})  // 5,000 resources
    ->Args({250, 10, 10'000})
    ->Args({250, 10, 100'000})
    ->Args({250, 10, 1'000'000})
    ->Iterations(300)
    ->Unit(benchmark::kMicrosecond);

// Delta for a roster of 500 / 5,000 *contacts* (one resource each) at 1%.
void BM_DeltaOneResource(benchmark::State& state) {
  const auto roster = static_cast<std::size_t>(state.range(0));
  const auto permille = static_cast<std::size_t>(state.range(1));
  const auto iters = static_cast<std::size_t>(state.max_iterations);
  core::Engine e(options(iters + 8));
  std::vector<std::string> contacts;
  for (std::size_t c = 0; c < roster; ++c) {
    contacts.push_back(contact_jid(c));
    e.observe_available(resource_jid(c, 0), fields_variant(c, 0));
  }
  e.set_roster("user@example.org", contacts);
  for (std::size_t k = 0; k < iters; ++k)
    (void)e.enable("user@example.org", "s" + std::to_string(k), "r", "e");
  std::mt19937 rng(7);
  std::vector<std::size_t> order(roster);
  for (std::size_t c = 0; c < roster; ++c) order[c] = c;
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t k = 0; k < roster * permille / 1000; ++k)
    e.observe_available(resource_jid(order[k], 0), fields_variant(order[k], 1));
  std::size_t k = 0, items = 0;
  for (auto _ : state) {
    auto d = e.sync("user@example.org", "n" + std::to_string(k), "r", "y",
                    {"s" + std::to_string(k), "r", "e"});
    if (!d.ok()) state.SkipWithError(std::string(proto::to_string(d.error().app)).c_str());
    items = d.ok() ? d->items() : 0;
    benchmark::DoNotOptimize(d);
    ++k;
  }
  state.counters["delta_items"] = static_cast<double>(items);
}
BENCHMARK(BM_DeltaOneResource)
    ->ArgNames({"contacts", "permille"})
    ->Args({500, 0})
    ->Args({500, 10})
    ->Args({500, 100})
    ->Args({5000, 0})
    ->Args({5000, 10})
    ->Args({5000, 100})
    ->Iterations(300)
    ->Unit(benchmark::kMicrosecond);

// Worst case of lazy hashing: enable (which answers the digest) right after every
// contact of the roster changed, so every resource hash is recomputed.
void BM_EnableColdDigest(benchmark::State& state) {
  const auto roster = static_cast<std::size_t>(state.range(0));
  core::Engine e(options(4));
  std::vector<std::string> contacts;
  for (std::size_t c = 0; c < roster; ++c) {
    contacts.push_back(contact_jid(c));
    e.observe_available(resource_jid(c, 0), fields_variant(c, 0));
  }
  e.set_roster("user@example.org", contacts);
  std::size_t k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t c = 0; c < roster; ++c)
      e.observe_available(resource_jid(c, 0), fields_variant(c, 1 + (k & 1)));
    ++k;
    state.ResumeTiming();
    auto r = e.enable("user@example.org", "s", "r", "e" + std::to_string(k));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_EnableColdDigest)->Arg(500)->Arg(5000)->Unit(benchmark::kMicrosecond);

// Presence updates per second into the engine alone (no store), `n` resources,
// with 1,000 users holding live keys (so history is kept).
void BM_IngestMemory(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Population pop(n);
  core::Engine e(options());
  for (std::size_t i = 0; i < n; ++i) e.observe_available(pop.jids[i], pop.a[i]);
  for (std::size_t u = 0; u < 1000; ++u) {
    std::vector<std::string> roster;
    for (std::size_t c = 0; c < 100; ++c)
      roster.push_back(contact_jid((u * 37 + c) % pop.contacts()));
    std::string user = "user" + std::to_string(u) + "@example.org";
    e.set_roster(user, roster);
    (void)e.enable(user, "s", "r", "e");
  }
  std::mt19937 rng(1);
  std::vector<std::uint8_t> flip(n, 0);
  for (auto _ : state) {
    std::size_t i = rng() % n;
    flip[i] ^= 1;
    e.observe_available(pop.jids[i], flip[i] ? pop.b[i] : pop.a[i]);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  auto s = e.stats();
  state.counters["history"] = static_cast<double>(s.history_entries);
}
BENCHMARK(BM_IngestMemory)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Iterations(1'000'000);

// Heap bytes per tracked resource (glibc mallinfo2), total and beyond the JID and text
// field bytes.
void BM_MemoryPerResource(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double total = 0, beyond = 0;
  for (auto _ : state) {
    Population pop(n);
    std::size_t text = 0;
    for (std::size_t i = 0; i < n; ++i)
      text += pop.jids[i].size() + pop.a[i].status.size() + pop.a[i].photo.size();
    malloc_trim(0);
    const auto before = mallinfo2().uordblks + mallinfo2().hblkhd;
    {
      core::Engine e(options());
      for (std::size_t i = 0; i < n; ++i) e.observe_available(pop.jids[i], pop.a[i]);
      const auto after = mallinfo2().uordblks + mallinfo2().hblkhd;
      total = static_cast<double>(after - before) / static_cast<double>(n);
      beyond = (static_cast<double>(after - before) - static_cast<double>(text)) /
               static_cast<double>(n);
      benchmark::DoNotOptimize(e);
    }
  }
  state.counters["bytes_per_resource"] = total;
  state.counters["bytes_beyond_jid_and_text"] = beyond;
}
BENCHMARK(BM_MemoryPerResource)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rpsync::bench

BENCHMARK_MAIN();
