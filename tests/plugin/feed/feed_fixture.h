// SPDX-License-Identifier: MIT
// What the change-feed scenarios against a real redis-server (tests/harness/redis) share:
// a Redis per test, reader options, marker entries, an inline Sink, a Loop standing in
// for the component's event loop, and a bounded wait. Every wait is bounded in time.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/feed/apply.h"
#include "plugin/feed/continuity.h"
#include "plugin/feed/feed_reader.h"
#include "plugin/feed/feed_writer.h"
#include "plugin/store/redis_store.h"
#include "tests/harness/redis/redis_server.h"

namespace rpsync::feed::feedtest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#define REQUIRE_REDIS_SERVER()                                                        \
  do {                                                                                \
    if (!test::RedisServer::find_executable())                                        \
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)"; \
  } while (false)

inline std::unique_ptr<test::RedisServer> start_redis(test::RedisOptions o = {}) {
  std::string why;
  auto r = test::RedisServer::start(std::move(o), &why);
  if (!r) ADD_FAILURE() << why;
  return r;
}

// Durability of Redis itself is not asserted: no fsync per write (faster).
inline test::RedisOptions no_fsync() {
  test::RedisOptions o;
  o.appendfsync = "no";
  return o;
}

inline store::RedisTarget target_of(const test::RedisServer& r, int timeout_ms = 2000) {
  auto t = store::parse_redis_uri(r.uri(0, "fd"));
  EXPECT_TRUE(t.ok());
  t.value().timeout_ms = timeout_ms;
  return t.value();
}

inline ReaderOptions reader_options(std::string instance) {
  ReaderOptions o;
  o.instance = std::move(instance);
  o.block_ms = 100;
  o.redeliver_after_ms = 1000;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 300;
  return o;
}

inline core::Batch presence_of(int i) {
  return {core::PutResource{"n" + std::to_string(i) + "@x/r", {}}};
}

// The jid of an entry published by presence_of().
inline std::string marker(const Entry& e) {
  if (e.mutations.empty()) return e.user;
  if (const auto* p = std::get_if<core::PutResource>(&e.mutations.front())) return p->jid;
  return {};
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// What one instance applied (inline executor: apply runs on the reader's thread).
struct Sink {
  std::mutex mu;
  std::vector<std::string> markers;
  std::vector<std::string> ids;
  std::vector<std::string> gaps;
  Executor executor() {
    return [](std::function<void()> f) { f(); };
  }
  ApplyFn apply() {
    return [this](const Entry& e) {
      std::lock_guard lock(mu);
      markers.push_back(marker(e));
      ids.push_back(e.id);
      return true;
    };
  }
  GapFn gap() {
    return [this](const std::string& why) {
      std::lock_guard lock(mu);
      gaps.push_back(why);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return markers.size();
  }
  std::size_t gap_count() {
    std::lock_guard lock(mu);
    return gaps.size();
  }
};

// A loop on the test's thread: the owner's executor for engine tests.
class Loop {
 public:
  Executor executor() {
    return [this](std::function<void()> f) {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(f));
    };
  }
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      std::deque<std::function<void()>> now;
      {
        std::lock_guard lock(mu_);
        now.swap(queue_);
      }
      for (auto& f : now) f();
      if (pred()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return pred();
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
};

inline std::unique_ptr<FeedWriter> writer(const store::RedisTarget& t, std::string origin = "w",
                                          std::string group = "gw",
                                          std::uint64_t retention = 1000000) {
  auto w = FeedWriter::open(t, {std::move(origin), std::move(group), retention, 0});
  EXPECT_TRUE(w.ok());
  return std::move(w.value());
}

}  // namespace rpsync::feed::feedtest
