// SPDX-License-Identifier: MIT
// The service's operator-facing counters: logged on an interval and published as metrics
// by the app (plugin/app/metrics_feed.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace rpsync::service {

struct Counters {
  std::uint64_t presence_in = 0;  // presence stanzas ingested
  std::uint64_t enables = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t disables = 0;
  std::uint64_t syncs = 0;         // sync requests answered (delta or failure)
  std::uint64_t deltas = 0;        // syncs answered with a delta
  std::uint64_t empty_deltas = 0;  // ... of which nothing had changed
  std::uint64_t delta_bytes = 0;   // bytes of the delta payloads sent
  std::uint64_t full_bytes = 0;    // estimated bytes a full login would have cost instead
  std::uint64_t errors = 0;        // stanza errors sent (any condition)
  std::uint64_t rate_limited = 0;
  std::uint64_t busy = 0;       // refused: max_in_flight requests already in flight
  std::uint64_t oversized = 0;  // stanzas skipped by the stream parser for a limit
  // Privileged roster gets (every enable/checkpoint/sync does one, roster_fetch.h):
  std::uint64_t roster_cache_hits = 0;    // answered "unchanged": the cached list was used
  std::uint64_t roster_cache_misses = 0;  // answered with the full roster
  std::uint64_t roster_refetches = 0;     // a versioned get failed or surprised: fetched again
  // Gaps closed per user (ServiceConfig::close_gaps_per_user, gap_decision.cpp): key
  // moments from before a reconnect or restart that stayed valid / were invalidated.
  std::uint64_t gap_keys_kept = 0;
  std::uint64_t gap_keys_lost = 0;
  std::map<std::string, std::uint64_t, std::less<>> failures;  // sync failures by condition
};

}  // namespace rpsync::service
