// SPDX-License-Identifier: MIT
// A Store that forwards to another and times every flush() (the commit that makes
// mutations durable: SQLite's transaction commit, Redis's MULTI/EXEC) into the
// rpsync_store_commit_seconds histogram. Used on the event loop's thread only.
#pragma once

#include <chrono>

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
    commits_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return done;
  }
  const metrics::Histogram& commits() const { return commits_; }

 private:
  store::Store& inner_;
  metrics::Histogram commits_;
};

}  // namespace rpsync::app
