// SPDX-License-Identifier: MIT
// A Store that forwards to another and times every flush() (the commit that makes
// mutations durable: SQLite's transaction commit, Redis's MULTI/EXEC) into the
// rpsync_store_commit_seconds histogram. flush() runs on the thread that owns the store (the
// store's worker, or the event loop without one); commits() may be read from another.
#pragma once

#include <chrono>
#include <mutex>

#include "plugin/metrics/snapshot.h"
#include "plugin/store/store.h"

namespace rpsync::app {

class TimedStore final : public store::Store {
 public:
  explicit TimedStore(store::Store& inner) : inner_(inner) {}
  StatusOr<core::Image> load() override { return inner_.load(); }
  store::Done write(const core::Batch& batch) override { return inner_.write(batch); }
  store::Done flush() override {
    const auto t0 = std::chrono::steady_clock::now();
    auto done = inner_.flush();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lock(mu_);
    commits_.observe(s);
    return done;
  }
  metrics::Histogram commits() const {
    std::lock_guard lock(mu_);
    return commits_;
  }

 private:
  store::Store& inner_;
  mutable std::mutex mu_;
  metrics::Histogram commits_;
};

}  // namespace rpsync::app
