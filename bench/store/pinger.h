// SPDX-License-Identifier: MIT
// XEP-0199 pings from a c2s client to a JID through the server, sent on a fixed schedule
// without waiting for the answers (an answer held up does not delay the next ping: no
// coordinated omission), each round trip recorded (rpsync_component_fold_lag_bench).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "tests/harness/test_client.h"

namespace rpsync::bench {

// One ping: when it was sent (ms after the run started) and its round trip.
struct PingRecord {
  double sent_ms = 0;
  double rtt_ms = -1;  // -1: unanswered
  bool error = false;  // answered with an error (the server's: the component was away)
};

struct PingFigures {
  std::size_t sent = 0;
  std::size_t answered = 0;        // answers that came back (results and errors)
  std::size_t errors = 0;          // error answers among them
  std::vector<double> rtt_ms;      // of the answered ones, sorted
  double percentile(int p) const;  // 0 when nothing was answered
  double max() const { return rtt_ms.empty() ? 0 : rtt_ms.back(); }
  std::size_t over(double ms) const;  // answered slower than `ms`, plus unanswered
};

// Figures of the pings sent in [from_ms, to_ms).
PingFigures figures_of(const std::vector<PingRecord>& pings, double from_ms, double to_ms);

// One ping to `to`, waited for up to `timeout`: true when answered.
bool ping_round_trip(test::TestClient& c, const std::string& to, const std::string& id,
                     std::chrono::milliseconds timeout);

class Pinger {
 public:
  Pinger(test::TestClient& c, std::string to) : c_(c), to_(std::move(to)) {}
  // A ping every `interval` until `tail` after `step(elapsed)` (called every 250 ms, on
  // this thread: it may use the client, e.g. to send presence) first returned true, or
  // `window` has passed, whichever is first; then waits up to 5 s for the answers still
  // out.
  std::vector<PingRecord> run(std::chrono::milliseconds interval, std::chrono::milliseconds window,
                              std::chrono::milliseconds tail,
                              const std::function<bool(std::chrono::milliseconds)>& step);

 private:
  void send(std::size_t n);
  void receive_until(std::chrono::steady_clock::time_point until);

  test::TestClient& c_;
  std::string to_;
  std::chrono::steady_clock::time_point start_;
  std::vector<PingRecord> pings_;  // by ping number
  std::size_t out_ = 0;            // not answered yet
};

}  // namespace rpsync::bench
