// SPDX-License-Identifier: MIT
// A Snapshot as OpenMetrics 1.0 text (also read by Prometheus): every metric family with
// HELP and TYPE, counters' samples suffixed _total, the histogram's cumulative buckets,
// and the closing "# EOF". docs/monitoring.md explains each metric.
#pragma once

#include <string>
#include <string_view>

#include "plugin/metrics/snapshot.h"

namespace rpsync::metrics {

inline constexpr std::string_view kContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

std::string render(const Snapshot& s, double uptime_seconds);

}  // namespace rpsync::metrics
