// SPDX-License-Identifier: MIT
// The CPU time a process (Prosody, the component) has consumed so far: user + system time
// of every thread, read from /proc. Sampled before and after a reconnect, the difference
// is what that reconnect cost the process (plus whatever else it did meanwhile: the bench
// keeps the servers idle otherwise).
#pragma once

#include <sys/types.h>

#include <optional>

namespace rpsync::bench {

// Milliseconds of CPU `pid` has used: the sum of sum_exec_runtime over
// /proc/PID/task/*/schedstat (the scheduler's utime + stime in nanoseconds), or, where
// schedstat is missing, utime + stime from /proc/PID/stat (clock ticks, 10 ms here).
// Empty when the process is gone.
std::optional<double> process_cpu_ms(pid_t pid);

// Before/after pairs over several processes; sum of their CPU milliseconds.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t pid) : pid_(pid) {}
  void start() { at_start_ = process_cpu_ms(pid_).value_or(0); }
  // CPU ms since start().
  double elapsed() const { return process_cpu_ms(pid_).value_or(at_start_) - at_start_; }

 private:
  pid_t pid_;
  double at_start_ = 0;
};

}  // namespace rpsync::bench
