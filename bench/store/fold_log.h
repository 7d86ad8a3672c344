// SPDX-License-Identifier: MIT
// What rpsync_component_fold_lag_bench reads from the component's log: its folds
// (store.folded), the end of its presence re-learn (resync.started, resync.done) and the
// loop's largest pause over its stats lines (stats.service loop_lag_max_ms, one a second).
// Log lines start with a UTC timestamp, 2026-12-07T15:15:18.249Z (log/log.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpsync::bench {

struct LogFigures {
  std::size_t folds = 0;
  double fold_ms = 0;  // of the last store.folded
  std::uint64_t fold_log_records = 0;
  std::uint64_t fold_rows = 0;
  std::uint64_t resync_gone = 0;  // resources the last resync.done took offline
  // How long the loop was held by the re-learn's end: from the tick that ended it (its
  // start + ms) to its log line (the engine taking the resources offline, and inline the
  // store writing that).
  double resync_pause_ms = 0;
  // A sliced end (resync.done slices=): the longest slice is what held the loop at once,
  // and resync_pause_ms is then the longest slice; end_ms from the tick to the last slice.
  std::size_t resync_slices = 0;
  double resync_end_ms = 0;
  double loop_lag_base_max_ms = 0;  // largest over the stats lines stamped in [from, fold)
  double loop_lag_max_ms = 0;       // largest over the stats lines stamped from `fold` on
  double loop_lag_run_max_ms = 0;   // largest over every stats line of the run
  std::size_t base_lines = 0;       // stats lines in [from, fold)
  std::size_t fold_lines = 0;       // stats lines from `fold` on
};

// `t` as the log stamps it (UTC, milliseconds).
std::string log_stamp(std::chrono::system_clock::time_point t);
// Lines holding the event `event` ("...: <event> key=value ...").
std::size_t count_events(std::string_view log, std::string_view event);
// loop_lag_max_ms of every stats line, in order.
std::vector<double> loop_lags(std::string_view log);
// `from`, `fold`: log_stamp()s, the baseline's start and the fold's trigger; stats lines
// before `from` count only for loop_lag_run_max_ms.
LogFigures read_log_figures(std::string_view log, std::string_view from, std::string_view fold);

}  // namespace rpsync::bench
