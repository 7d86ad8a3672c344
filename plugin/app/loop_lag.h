// SPDX-License-Identifier: MIT
// The event loop's own lag: a timer armed every kProbe whose lateness (how long after its
// expiry it ran) is how long the loop was busy with something else. Two maxima: since the
// last stats line (take_interval_max(), the `loop_lag_max_ms` field of stats.service) and
// over the last two kWindow windows (recent_max(), the rpsync_loop_lag_max_seconds gauge).
// On the loop's thread only.
#pragma once

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>

namespace rpsync::app {

class LoopLag {
 public:
  static constexpr std::chrono::milliseconds kProbe{20};
  static constexpr std::chrono::seconds kWindow{10};

  explicit LoopLag(asio::io_context& io) : timer_(io) {}
  void start() { arm(); }
  void cancel() { timer_.cancel(); }
  // Largest lateness since the previous call, in ms.
  double take_interval_max() {
    const double m = interval_max_ms_;
    interval_max_ms_ = 0;
    return m;
  }
  // Largest lateness over the last 10 to 20 s, in seconds.
  double recent_max() const { return std::max(window_max_ms_, previous_max_ms_) / 1000.0; }

 private:
  void arm() {
    due_ = std::chrono::steady_clock::now() + kProbe;
    timer_.expires_at(due_);
    timer_.async_wait([this](std::error_code ec) {
      if (ec) return;
      note(std::chrono::steady_clock::now());
      arm();
    });
  }
  void note(std::chrono::steady_clock::time_point now) {
    const double late = std::chrono::duration<double, std::milli>(now - due_).count();
    interval_max_ms_ = std::max(interval_max_ms_, late);
    if (now - window_start_ >= kWindow) {
      previous_max_ms_ = window_max_ms_;
      window_max_ms_ = 0;
      window_start_ = now;
    }
    window_max_ms_ = std::max(window_max_ms_, late);
  }

  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point due_;
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
  double interval_max_ms_ = 0;
  double window_max_ms_ = 0;
  double previous_max_ms_ = 0;
};

}  // namespace rpsync::app
