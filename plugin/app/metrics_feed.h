// SPDX-License-Identifier: MIT
// The metrics Snapshot from the loop's state: the service's counters, the connection's
// lifecycle, the gate probe and the store's commit timings. Rejections by limit:
// requests_per_minute (rate-limited), max_stanza_bytes (request or stanza too big),
// max_delta_items (a sync's delta over the limit: too-large).
#pragma once

#include "plugin/metrics/snapshot.h"
#include "plugin/service/service.h"

namespace rpsync::app {

struct LoopState {
  bool ready = false;
  bool connected = false;
  bool privileged = false;
  int gate_feature = -1;
};

metrics::Snapshot snapshot_of(const service::Counters& c, const LoopState& state,
                              const metrics::Histogram& commits, double loop_lag_max_s);

}  // namespace rpsync::app
