// SPDX-License-Identifier: MIT
// Change-feed throughput: one writer publishes E entries (each a commit of M
// presence mutations, as a RedisStore commit hook would) while R = 1, 2, 4 instances read
// them through their consumer groups and apply them to their own engine (observer group
// differs, so every mutation is applied). Prints, per R: publish time, time until every
// instance applied everything, the rates, and the publish-to-apply lag (Redis' XADD time in
// the entry id to the apply, same host) over all readers' entries. A fresh redis-server
// (tests/harness/redis, loopback, AOF with the chosen fsync policy) per row. Run:
// build-*/bin/rpsync_bench_feed [ENTRIES [MUTATIONS_PER_ENTRY [always|everysec|no]]]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/timing.h"
#include "plugin/core/engine.h"
#include "plugin/feed/apply.h"
#include "plugin/feed/feed_reader.h"
#include "plugin/feed/feed_writer.h"
#include "tests/harness/redis/redis_server.h"

namespace {

using namespace rpsync;
using rpsync::bench::Clock;
using rpsync::bench::seconds_since;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Reader {
  std::int64_t now = 0;
  core::Engine engine;
  std::atomic<std::uint64_t> entries{0};
  std::vector<std::int64_t> lag_ms;  // reader thread only, read after stop()
  std::unique_ptr<feed::FeedReader> reader;
  static core::EngineOptions options(std::int64_t* now) {
    core::EngineOptions o;
    o.journal = false;
    o.clock = [now] { return *now; };
    return o;
  }
  Reader(const store::RedisTarget& t, const std::string& id) : engine(options(&now)) {
    feed::ReaderOptions o;
    o.instance = id;
    reader = std::make_unique<feed::FeedReader>(
        t, o, [](std::function<void()> f) { f(); },
        [this, id](const feed::Entry& e) {
          feed::apply_entry(engine, e, {id, "readers"});
          // The id's time part is Redis' clock at XADD (same host): publish-to-apply lag.
          const auto sid = feed::StreamId::parse(e.id);
          if (sid) lag_ms.push_back(wall_ms() - static_cast<std::int64_t>(sid->ms));
          ++entries;
          return true;
        },
        [](const std::string& why) { std::fprintf(stderr, "gap: %s\n", why.c_str()); });
  }
};

int row(int readers, int entries, int per_entry, const std::string& fsync) {
  test::RedisOptions ro;
  ro.appendfsync = fsync;
  std::string why;
  auto redis = test::RedisServer::start(ro, &why);
  if (!redis) {
    std::fprintf(stderr, "redis-server: %s\n", why.c_str());
    return 1;
  }
  auto target = store::parse_redis_uri(redis->uri(0, "bench"));
  if (!target.ok()) return 1;
  std::vector<std::unique_ptr<Reader>> rs;
  for (int i = 0; i < readers; ++i) {
    const std::string id = "r" + std::to_string(i);
    if (!feed::FeedReader::prepare(*target, id).ok()) return 1;
    rs.push_back(std::make_unique<Reader>(*target, id));
    rs.back()->reader->start();
  }
  auto writer = feed::FeedWriter::open(*target, {"w", "writer", 0, 0});
  if (!writer.ok()) return 1;
  const auto t0 = Clock::now();
  for (int e = 0; e < entries; ++e) {
    core::Batch b;
    for (int m = 0; m < per_entry; ++m) {
      proto::PresenceFields f;
      f.status = "s" + std::to_string(e);
      b.push_back(core::PutResource{"c" + std::to_string((e * per_entry + m) % 5000) + "@x/r", f});
    }
    if (auto r = (*writer)->publish(b); !r.ok()) {
      std::fprintf(stderr, "publish: %s\n", r.status().message().c_str());
      return 1;
    }
  }
  const double publish_s = seconds_since(t0);
  const auto all_done = [&] {
    for (auto& r : rs)
      if (r->entries < static_cast<std::uint64_t>(entries)) return false;
    return true;
  };
  for (int i = 0; i < 120000 && !all_done(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double applied_s = seconds_since(t0);
  if (!all_done()) {
    std::fprintf(stderr, "readers did not finish within 120 s\n");
    return 1;
  }
  for (auto& r : rs) r->reader->stop();
  std::vector<std::int64_t> lags;
  for (auto& r : rs) lags.insert(lags.end(), r->lag_ms.begin(), r->lag_ms.end());
  std::sort(lags.begin(), lags.end());
  auto pct = [&](double q) {
    return lags.empty() ? 0
                        : lags[static_cast<std::size_t>(q * static_cast<double>(lags.size() - 1))];
  };
  std::printf("| %d | %d | %d | %s | %.2f | %.0f | %.2f | %.0f | %.0f | %lld / %lld |\n", readers,
              entries, per_entry, fsync.c_str(), publish_s, entries / publish_s, applied_s,
              entries / applied_s, static_cast<double>(entries) * per_entry / applied_s,
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int entries = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int per_entry = argc > 2 ? std::atoi(argv[2]) : 10;
  const std::string fsync = argc > 3 ? argv[3] : "always";
  if (!rpsync::test::RedisServer::find_executable()) {
    std::fprintf(stderr, "redis-server is not installed\n");
    return 1;
  }
  std::printf(
      "| readers | entries | mutations/entry | appendfsync | publish s | published "
      "entries/s | all applied s | entries/s end to end | mutations/s per reader | "
      "lag ms p50 / p99 |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (int readers : {1, 2, 4})
    if (row(readers, entries, per_entry, fsync) != 0) return 1;
  return 0;
}
