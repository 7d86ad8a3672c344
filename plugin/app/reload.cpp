// SPDX-License-Identifier: MIT
#include "plugin/app/reload.h"

#include <functional>
#include <utility>

namespace rpsync::app {
namespace {

using Same = std::function<bool(const AppConfig&, const AppConfig&)>;

template <class T>
Same field(T AppConfig::*member) {
  return [member](const AppConfig& a, const AppConfig& b) { return a.*member == b.*member; };
}

const std::vector<std::pair<std::string, Same>>& live_keys() {
  static const std::vector<std::pair<std::string, Same>> keys{
      {"log.level", field(&AppConfig::log_level)},
      {"log.stats_interval", field(&AppConfig::stats_interval_s)},
      {"limits.requests_per_minute", field(&AppConfig::requests_per_minute)},
      {"limits.max_stanza_bytes", field(&AppConfig::max_stanza_bytes)},
  };
  return keys;
}

const std::vector<std::pair<std::string, Same>>& restart_keys() {
  static const std::vector<std::pair<std::string, Same>> keys{
      {"server.host", field(&AppConfig::host)},
      {"server.port", field(&AppConfig::port)},
      {"server.component", field(&AppConfig::component)},
      {"server.domains", field(&AppConfig::domains)},
      {"server.secret", field(&AppConfig::secret)},
      {"server.software", field(&AppConfig::software)},
      {"store.uri", field(&AppConfig::store)},
      {"store.queue", field(&AppConfig::store_queue)},
      {"store.timeout_ms", field(&AppConfig::store_timeout_ms)},
      {"sessions.lifetime", field(&AppConfig::lifetime_s)},
      {"sessions.max_per_user", field(&AppConfig::max_sessions_per_user)},
      {"limits.max_delta_items", field(&AppConfig::max_delta_items)},
      {"roster.cache_contacts", field(&AppConfig::roster_cache_contacts)},
      {"resync.slice", field(&AppConfig::resync_slice)},
      {"connection.backoff_min_ms", field(&AppConfig::backoff_min_ms)},
      {"connection.backoff_max_ms", field(&AppConfig::backoff_max_ms)},
      {"connection.keepalive", field(&AppConfig::keepalive_s)},
      {"connection.write_queue_bytes", field(&AppConfig::write_queue_bytes)},
      {"feed.instance_id", field(&AppConfig::instance_id)},
      {"feed.observer_group", field(&AppConfig::observer_group)},
      {"feed.retention_entries", field(&AppConfig::retention_entries)},
      {"feed.retention_ms", field(&AppConfig::retention_ms)},
      {"feed.heartbeat_ttl_ms", field(&AppConfig::heartbeat_ttl_ms)},
      {"metrics.listen", field(&AppConfig::metrics_listen)},
  };
  return keys;
}

}  // namespace

ReloadPlan plan_reload(const AppConfig& running, const AppConfig& loaded) {
  ReloadPlan plan;
  for (const auto& [name, same] : live_keys())
    if (!same(running, loaded)) plan.live.push_back(name);
  for (const auto& [name, same] : restart_keys())
    if (!same(running, loaded)) plan.restart.push_back(name);
  return plan;
}

AppConfig with_live_settings(AppConfig running, const AppConfig& loaded) {
  running.log_level = loaded.log_level;
  running.stats_interval_s = loaded.stats_interval_s;
  running.requests_per_minute = loaded.requests_per_minute;
  running.max_stanza_bytes = loaded.max_stanza_bytes;
  return running;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "-" : out;
}

}  // namespace rpsync::app
