// SPDX-License-Identifier: MIT
// The figures the metrics endpoint exposes, as one plain value: the event loop fills a
// Snapshot and publishes a copy (Published); the HTTP thread renders its own copy. Nothing
// here points into loop state, so the two threads share only Published's mutex.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace rpsync::metrics {

// A fixed-bucket histogram of seconds (store commit latency).
struct Histogram {
  static constexpr std::array<double, 10> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,  0.05,  0.1,    0.5,   1.0};
  std::array<std::uint64_t, kBounds.size()> buckets{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum = 0;
  void observe(double seconds);
};

struct Snapshot {
  bool ready = false;       // answers rpsync requests now
  bool connected = false;   // stream to the server is up
  bool privileged = false;  // ... and the server granted roster get + presence roster
  // mod_rpsync_gate's feature on every served domain: 1 yes, 0 no, -1 not yet known.
  int gate_feature = -1;
  std::uint64_t syncs_delta = 0;  // syncs answered with a non-empty delta
  std::uint64_t syncs_empty = 0;  // ... with an empty one
  std::map<std::string, std::uint64_t, std::less<>> sync_errors;  // by condition
  std::uint64_t sync_bytes_sent = 0;
  std::uint64_t full_login_bytes_estimated = 0;
  std::uint64_t presence_ingested = 0;
  std::map<std::string, std::uint64_t, std::less<>> rejected;  // by limit
  Histogram store_commit;
  double loop_lag_max_seconds = 0;  // the event loop's largest lag lately (app/loop_lag.h)
};

// The latest snapshot, handed from the loop to the HTTP thread.
class Published {
 public:
  void publish(const Snapshot& s) {
    std::lock_guard lock(mutex_);
    latest_ = s;
  }
  Snapshot latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
  }

 private:
  mutable std::mutex mutex_;
  Snapshot latest_;
};

}  // namespace rpsync::metrics
