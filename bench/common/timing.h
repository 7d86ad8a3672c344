// SPDX-License-Identifier: MIT
// Wall-clock helpers of the bench programs: elapsed seconds and progress lines on stderr.
#pragma once

#include <chrono>
#include <string>

namespace rpsync::bench {

using Clock = std::chrono::steady_clock;

// Seconds from `t0` to `t` (by default: now).
double seconds_since(Clock::time_point t0, Clock::time_point t = Clock::now());
// Milliseconds from `from` to `to`.
double ms_between(Clock::time_point from, Clock::time_point to);
// "[  12.3s] what" on stderr, the time counted from the first call.
void progress(const std::string& what);

}  // namespace rpsync::bench
