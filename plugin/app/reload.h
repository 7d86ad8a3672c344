// SPDX-License-Identifier: MIT
// What a SIGHUP reload may change in place. Live: log.level, log.stats_interval,
// limits.requests_per_minute, limits.max_stanza_bytes. Every other setting is read once
// at start (the connection, the store, the engine's limits and key lifetime, the feed,
// the metrics endpoint): when one of those changed, the reload names it in a warning
// and the running process keeps the old value until restarted.
#pragma once

#include <string>
#include <vector>

#include "plugin/app/config.h"

namespace rpsync::app {

struct ReloadPlan {
  std::vector<std::string> live;     // changed settings applied now
  std::vector<std::string> restart;  // changed settings that need a restart
};

ReloadPlan plan_reload(const AppConfig& running, const AppConfig& loaded);

// `running` with the live settings of `loaded`: what the process runs with after a reload.
AppConfig with_live_settings(AppConfig running, const AppConfig& loaded);

std::string joined(const std::vector<std::string>& names);

}  // namespace rpsync::app
