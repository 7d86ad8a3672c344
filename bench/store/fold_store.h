// SPDX-License-Identifier: MIT
// An SQLite store prepared so that the component loads N resources at start and folds its
// presence log soon after, while it serves (rpsync_component_fold_lag_bench).
//
// SqliteStore folds its log when the log holds more than three times as many presence
// mutations as the base has rows (and at least StoreOptions::compact_min_log). The store
// is written with B = ceil(N/2) resources folded into the base and the other N - B left in
// the log, every row with its version (as the component writes them with history on, so
// its restore journals nothing again): the component's first commit does not fold. Nobody
// is online on the server, so when the component's re-learn of presence ends (resync.done,
// quiet for 2 s after it connected) every restored resource goes offline: N erasures, and
// the log holds (N - B) + N <= 3B records, still no fold. The next presence the component
// ingests tips it over: that commit folds the log (about 1.5 N records, N distinct
// resources) into the base, while the component serves. Rosters: `users` users, each with
// N/users of the contacts (contact<i>@<domain>, one resource each).
#pragma once

#include <cstddef>
#include <string>

#include "protocol/status.h"

namespace rpsync::bench {

struct FoldStoreSpec {
  std::size_t resources = 1000000;
  std::size_t users = 1000;
  std::string domain = "example.test";
};

// Writes the store at `path` (which must not exist) with the project's SqliteStore and
// closes it. Needs resources > 2 * 65536 (the base must be folded while preparing).
Status prepare_fold_store(const std::string& path, const FoldStoreSpec& spec);

}  // namespace rpsync::bench
