// SPDX-License-Identifier: MIT
// CPU time of one thread and the time it waited for a CPU while runnable (Linux
// /proc/<pid>/task/<tid>/schedstat: on-CPU ns, run-queue wait ns, time slices), to tell a
// loop held by its own work from a loop thread that could not get a CPU on a busy machine
// (rpsync_component_fold_lag_bench).
#pragma once

#include <sys/types.h>

#include <fstream>
#include <string>

namespace rpsync::bench {

struct ThreadTimes {
  double run_ms = 0;   // on a CPU
  double wait_ms = 0;  // runnable, waiting for a CPU
  bool ok = false;
};

// The thread `tid` of process `pid` (its main thread: tid == pid).
inline ThreadTimes thread_times(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat");
  unsigned long long run = 0, wait = 0;
  ThreadTimes t;
  if (!(in >> run >> wait)) return t;
  t.run_ms = static_cast<double>(run) / 1e6;
  t.wait_ms = static_cast<double>(wait) / 1e6;
  t.ok = true;
  return t;
}

// The process's peak resident memory in MB (VmHWM in /proc/<pid>/status), -1 if unreadable.
inline double peak_rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string key; in >> key;) {
    if (key == "VmHWM:") {
      double kb = -1;
      in >> kb;
      return kb / 1024;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

// The 1-minute load average (/proc/loadavg), -1 when unreadable.
inline double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

}  // namespace rpsync::bench
