// SPDX-License-Identifier: MIT
#include "bench/store/fold_log.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace rpsync::bench {
namespace {

// The log's lines holding `event`, in order.
std::vector<std::string_view> lines_of(std::string_view log, std::string_view event) {
  const std::string marker = ": " + std::string(event) + " ";
  std::vector<std::string_view> out;
  for (std::size_t at = 0; at < log.size();) {
    std::size_t end = log.find('\n', at);
    if (end == std::string_view::npos) end = log.size();
    const std::string_view line = log.substr(at, end - at);
    if ((std::string(line) + " ").find(marker) != std::string::npos) out.push_back(line);
    at = end + 1;
  }
  return out;
}

// The number after " key=" in `line`, nullopt when absent.
std::optional<double> field(std::string_view line, std::string_view key) {
  const std::string k = " " + std::string(key) + "=";
  const std::size_t at = line.find(k);
  if (at == std::string_view::npos) return std::nullopt;
  return std::strtod(std::string(line.substr(at + k.size(), 32)).c_str(), nullptr);
}

// Milliseconds of the day of a line's stamp (runs here do not cross midnight).
double ms_of_day(std::string_view line) {
  if (line.size() < 23) return 0;
  auto num = [&](std::size_t at, std::size_t n) {
    return std::atof(std::string(line.substr(at, n)).c_str());
  };
  return ((num(11, 2) * 60 + num(14, 2)) * 60 + num(17, 2)) * 1000 + num(20, 3);
}

void read_fold(std::string_view log, LogFigures& f) {
  const auto folds = lines_of(log, "store.folded");
  f.folds = folds.size();
  if (folds.empty()) return;
  f.fold_ms = field(folds.back(), "ms").value_or(0);
  f.fold_log_records = static_cast<std::uint64_t>(field(folds.back(), "log_records").value_or(0));
  f.fold_rows = static_cast<std::uint64_t>(field(folds.back(), "rows").value_or(0));
}

void read_resync(std::string_view log, LogFigures& f) {
  const auto started = lines_of(log, "resync.started");
  const auto done = lines_of(log, "resync.done");
  if (done.empty() || started.empty()) return;
  f.resync_gone = static_cast<std::uint64_t>(field(done.back(), "gone").value_or(0));
  const double tick = ms_of_day(started.back()) + field(done.back(), "ms").value_or(0);
  f.resync_pause_ms = std::max(0.0, ms_of_day(done.back()) - tick);
  f.resync_end_ms = f.resync_pause_ms;
  f.resync_slices = static_cast<std::size_t>(field(done.back(), "slices").value_or(0));
  if (f.resync_slices > 0) f.resync_pause_ms = field(done.back(), "slice_max_ms").value_or(0);
}

}  // namespace

std::string log_stamp(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const time_t secs = static_cast<time_t>(ms.count() / 1000);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buf;
}

std::size_t count_events(std::string_view log, std::string_view event) {
  return lines_of(log, event).size();
}

std::vector<double> loop_lags(std::string_view log) {
  std::vector<double> out;
  for (std::string_view line : lines_of(log, "stats.service"))
    out.push_back(field(line, "loop_lag_max_ms").value_or(0));
  return out;
}

LogFigures read_log_figures(std::string_view log, std::string_view from, std::string_view fold) {
  LogFigures f;
  read_fold(log, f);
  read_resync(log, f);
  for (std::string_view line : lines_of(log, "stats.service")) {
    const double lag = field(line, "loop_lag_max_ms").value_or(0);
    f.loop_lag_run_max_ms = std::max(f.loop_lag_run_max_ms, lag);
    const std::string_view stamp = line.substr(0, from.size());
    if (stamp < from) continue;
    if (stamp < fold) {
      ++f.base_lines;
      f.loop_lag_base_max_ms = std::max(f.loop_lag_base_max_ms, lag);
    } else {
      ++f.fold_lines;
      f.loop_lag_max_ms = std::max(f.loop_lag_max_ms, lag);
    }
  }
  return f;
}

}  // namespace rpsync::bench
