// SPDX-License-Identifier: MIT
#include "bench/reconnect/server_cpu.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rpsync::bench {

namespace {

// Sum of the first field (run time in ns) of every thread's schedstat.
std::optional<double> schedstat_ms(pid_t pid) {
  namespace fs = std::filesystem;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  fs::directory_iterator it(tasks, ec);
  if (ec) return std::nullopt;
  double ns = 0;
  bool any = false;
  for (const auto& entry : it) {
    std::ifstream in(entry.path() / "schedstat");
    double run_ns = 0;
    if (in >> run_ns) {
      ns += run_ns;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return ns / 1e6;
}

// utime + stime (fields 14 and 15 of /proc/PID/stat, after the parenthesised name).
std::optional<double> stat_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return (utime + stime) * 1000.0 / static_cast<double>(ticks);
}

}  // namespace

std::optional<double> process_cpu_ms(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  if (auto ms = schedstat_ms(pid)) return ms;
  return stat_ms(pid);
}

}  // namespace rpsync::bench
