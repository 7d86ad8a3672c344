// SPDX-License-Identifier: MIT
// StoreWorker (plugin/store/store_worker.h): order of completions, the queue bound, a
// failed write failing the next flush, flush_and_wait's bound and the shutdown drain. The
// store is a fake whose calls can be held on a gate; the "loop" is a queue the test drains.
#include "plugin/store/store_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rpsync::store {
namespace {

using namespace std::chrono_literals;

// Records what it ran ("w<n>" per write of n mutations, "f" per flush); calls wait while
// the gate is closed; the next write can be made to fail.
class GatedStore final : public Store {
 public:
  StatusOr<core::Image> load() override { return core::Image{}; }
  Done write(const core::Batch& batch) override {
    wait_gate();
    std::lock_guard lock(mu_);
    ran_.push_back("w" + std::to_string(batch.size()));
    if (fail_next_write_) {
      fail_next_write_ = false;
      return Status::unavailable("fake: write refused");
    }
    return Status();
  }
  Done flush() override {
    wait_gate();
    std::lock_guard lock(mu_);
    ran_.push_back("f");
    return Status();
  }
  void close_gate() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void fail_next_write() {
    std::lock_guard lock(mu_);
    fail_next_write_ = true;
  }
  std::vector<std::string> ran() const {
    std::lock_guard lock(mu_);
    return ran_;
  }

 private:
  void wait_gate() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  bool fail_next_write_ = false;
  std::vector<std::string> ran_;
};

// The event loop's stand-in: completions posted by the worker, run by the test's thread.
class Loop {
 public:
  StoreWorker::Post post() {
    return [this](std::function<void()> f) {
      std::lock_guard lock(mu_);
      posted_.push_back(std::move(f));
      cv_.notify_all();
    };
  }
  // Runs posted completions until `n` ran in total, at most 5 s.
  bool run_until(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (ran_ < n) {
      std::function<void()> f;
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait_until(lock, deadline, [&] { return !posted_.empty(); })) return false;
        f = std::move(posted_.front());
        posted_.pop_front();
      }
      f();
      ++ran_;
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
  std::size_t ran_ = 0;
};

core::Batch batch_of(std::size_t n) {
  core::Batch b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = core::PutEpoch{i + 1};
  return b;
}

TEST(StoreWorker, CompletionsComeBackOnTheLoopInTheOrderHandedOver) {
  GatedStore store;
  Loop loop;
  std::vector<std::string> seen;
  StoreWorker worker(store, {}, loop.post());
  const auto note = [&](std::string what) {
    return [&seen, what](const Status& s) { seen.push_back(what + (s ? "+" : "-")); };
  };
  ASSERT_TRUE(worker.write(batch_of(1), note("w1")));
  ASSERT_TRUE(worker.write(batch_of(2), note("w2")));
  ASSERT_TRUE(worker.flush(note("f")));
  ASSERT_TRUE(worker.write(batch_of(3), note("w3")));
  ASSERT_TRUE(loop.run_until(4));
  EXPECT_EQ(seen, (std::vector<std::string>{"w1+", "w2+", "f+", "w3+"}));
  EXPECT_EQ(store.ran(), (std::vector<std::string>{"w1", "w2", "f", "w3"}));
}

TEST(StoreWorker, RefusesWritesBeyondItsBoundAndTakesThemAgainOnceDrained) {
  GatedStore store;
  Loop loop;
  store.close_gate();
  StoreWorker worker(store, {2, 1000ms}, loop.post());
  std::size_t accepted = 0;
  for (int i = 0; i < 6; ++i) accepted += worker.write(batch_of(1), {}) ? 1 : 0;
  // One may already be taken off the queue by the worker (held on the gate): 2 or 3.
  EXPECT_GE(accepted, 2u);
  EXPECT_LE(accepted, 3u);
  EXPECT_TRUE(worker.full());
  ASSERT_TRUE(worker.flush({}));  // flushes carry no data: not bounded by the queue
  store.open_gate();
  EXPECT_TRUE(worker.flush_and_wait(5000ms).ok());
  EXPECT_FALSE(worker.full());
  EXPECT_EQ(worker.queued(), 0u);
  EXPECT_TRUE(worker.write(batch_of(1), {}));
}

TEST(StoreWorker, AFailedWriteFailsTheNextFlushOnlyThatOne) {
  GatedStore store;
  Loop loop;
  std::vector<bool> flushes;
  StoreWorker worker(store, {}, loop.post());
  store.fail_next_write();
  worker.write(batch_of(1), {});
  worker.flush([&](const Status& s) { flushes.push_back(s.ok()); });
  worker.write(batch_of(1), {});
  worker.flush([&](const Status& s) { flushes.push_back(s.ok()); });
  ASSERT_TRUE(loop.run_until(2));
  EXPECT_EQ(flushes, (std::vector<bool>{false, true}));
}

TEST(StoreWorker, FlushAndWaitIsBoundedWhileTheStoreHangs) {
  GatedStore store;
  Loop loop;
  StoreWorker worker(store, {}, loop.post());
  store.close_gate();
  worker.write(batch_of(1), {});
  const auto t0 = std::chrono::steady_clock::now();
  const Status s = worker.flush_and_wait(100ms);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.message();
  EXPECT_LT(waited, 2s);
  store.open_gate();
  EXPECT_TRUE(worker.flush_and_wait(5000ms).ok());
}

TEST(StoreWorker, ShutdownDrainsWhatIsQueued) {
  GatedStore store;
  Loop loop;
  std::thread opener;
  {
    StoreWorker worker(store, {}, loop.post());
    store.close_gate();
    for (int i = 0; i < 5; ++i) worker.write(batch_of(1), {});
    opener = std::thread([&] {
      std::this_thread::sleep_for(50ms);
      store.open_gate();
    });
  }  // the destructor waits for the five writes and a flush
  opener.join();
  const auto ran = store.ran();
  ASSERT_EQ(ran.size(), 6u);
  EXPECT_EQ(ran.back(), "f");
}

}  // namespace
}  // namespace rpsync::store
