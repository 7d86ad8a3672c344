// SPDX-License-Identifier: MIT
// Reconnect delays: exponential from `min` doubling up to `max`, with "equal jitter"
// (each delay is uniformly drawn from [d/2, d]) so that many components restarted
// together do not reconnect in lockstep. Pure: the random source is injected.
#pragma once

#include <chrono>
#include <functional>

namespace rpsync::xmpp {

class Backoff {
 public:
  // `uniform01` returns values in [0, 1); it is called once per next().
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
          std::function<double()> uniform01);

  // Delay before the next attempt; every call doubles the base (up to max).
  std::chrono::milliseconds next();
  // After a successful handshake: the next failure waits `min` again.
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::function<double()> uniform01_;
  int attempt_ = 0;
};

}  // namespace rpsync::xmpp
