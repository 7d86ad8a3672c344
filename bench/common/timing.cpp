// SPDX-License-Identifier: MIT
#include "bench/common/timing.h"

#include <cstdio>

namespace rpsync::bench {

double seconds_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count() * 1000;
}

void progress(const std::string& what) {
  static const auto start = Clock::now();
  std::fprintf(stderr, "[%7.1fs] %s\n", seconds_since(start), what.c_str());
}

}  // namespace rpsync::bench
