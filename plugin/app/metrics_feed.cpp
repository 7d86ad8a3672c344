// SPDX-License-Identifier: MIT
#include "plugin/app/metrics_feed.h"

namespace rpsync::app {

metrics::Snapshot snapshot_of(const service::Counters& c, const LoopState& state,
                              const metrics::Histogram& commits, double loop_lag_max_s) {
  metrics::Snapshot s;
  s.ready = state.ready;
  s.connected = state.connected;
  s.privileged = state.privileged;
  s.gate_feature = state.gate_feature;
  s.syncs_empty = c.empty_deltas;
  s.syncs_delta = c.deltas - c.empty_deltas;
  for (const auto& [condition, n] : c.failures) s.sync_errors[condition] = n;
  s.sync_bytes_sent = c.delta_bytes;
  s.full_login_bytes_estimated = c.full_bytes;
  s.presence_ingested = c.presence_in;
  s.rejected["requests_per_minute"] = c.rate_limited;
  s.rejected["max_stanza_bytes"] = c.oversized;
  s.rejected["max_requests_in_flight"] = c.busy;
  auto too_large = c.failures.find(std::string_view("too-large"));
  s.rejected["max_delta_items"] = too_large == c.failures.end() ? 0 : too_large->second;
  s.store_commit = commits;
  s.loop_lag_max_seconds = loop_lag_max_s;
  return s;
}

}  // namespace rpsync::app
