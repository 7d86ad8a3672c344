// SPDX-License-Identifier: MIT
// The component's configuration: a TOML file (examples/rpsync.toml documents every key)
// overridden by command-line flags, parsed once in main() into an immutable AppConfig.
// The component secret is never taken from the command line alone: it comes from a
// file (secret_file / --secret-file), an environment variable (secret_env /
// --secret-env, default RPSYNC_SECRET) or the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugin/log/log.h"
#include "plugin/xmpp/server_info.h"

namespace rpsync::app {

struct AppConfig {
  // [server]
  std::string host = "127.0.0.1";
  std::uint16_t port = 5347;
  std::string component;             // component JID, required
  std::vector<std::string> domains;  // served domains, required
  std::string secret;                // resolved; required
  // Prosody or ejabberd (also detected at connect): ejabberd forwards every session end
  // and re-sends presence on connect only with mod_rpsync_gate (plugin/ejabberd); without
  // it a sync that cannot be proven fails (plugin/service/server_view.h).
  xmpp::Software software = xmpp::Software::kProsody;
  // [store]
  std::string store = "sqlite:rpsync.db";
  // Store work off the event loop: a worker thread owns the store, at most this many
  // batches wait for it (beyond: not-ready for requests, presence kept for later);
  // 0 = every store call on the event loop (the old way; always so with [feed]).
  std::uint32_t store_queue = 256;
  // Longest a request waits for its changes to become durable before not-ready.
  std::uint32_t store_timeout_ms = 5000;
  // [sessions]
  std::uint32_t lifetime_s = 604800;
  std::uint32_t max_sessions_per_user = 8;
  // [limits]
  std::uint32_t max_stanza_bytes = 16384;
  std::uint32_t requests_per_minute = 30;
  std::uint32_t max_requests_in_flight = 1024;  // all users together; more: busy
  std::uint32_t max_delta_items = 10000;
  // Stanzas from the server (xmpp::ComponentConfig): over any of these a stanza is
  // skipped and answered/accounted for, the stream goes on. Defaults take everything
  // Prosody 0.12 / ejabberd 23.01 relay (spec "Limits").
  std::uint32_t max_incoming_stanza_bytes = 3u << 20;
  std::uint32_t max_result_bytes = 64u << 20;  // IQ results: privileged roster answers
  std::uint32_t max_depth = 32;
  std::uint32_t max_attributes = 64;
  // Stanzas to the server: Prosody's component_stanza_size_limit default.
  std::uint32_t max_outgoing_stanza_bytes = 512u << 10;
  // [roster] contacts kept in the component's roster cache (versioned privileged roster
  // gets, plugin/service/roster_cache.h); 0 = off, every get is a plain full fetch.
  std::uint32_t roster_cache_contacts = 200000;
  // [resync] the end of a re-learn takes unconfirmed resources offline in slices of at
  // most this many, one per loop turn (ServiceConfig::resync_slice).
  std::uint32_t resync_slice = 2000;
  // [connection]
  std::uint32_t backoff_min_ms = 500;
  std::uint32_t backoff_max_ms = 30000;
  std::uint32_t keepalive_s = 60;
  std::uint32_t write_queue_bytes = 4u << 20;
  // [feed] several instances over one Redis (plugin/feed/README.md). Valid only
  // with a redis:// store; the feed is on exactly when instance_id is set.
  std::string instance_id;                    // unique per instance, [A-Za-z0-9_.-]{1,64}
  std::string observer_group;                 // default: server.host (instances on one server)
  std::uint64_t retention_entries = 1000000;  // feed entries kept; 0 = no count bound
  std::uint64_t retention_ms = 0;             // age bound of feed entries; 0 = none
  std::uint32_t heartbeat_ttl_ms = 15000;     // group continuity; above the ping timeout
  bool feed() const { return !instance_id.empty(); }
  // Found while parsing (e.g. a secret file others can read); logged as warnings at start.
  std::vector<std::string> warnings;
  // [log]
  log::Level log_level = log::Level::kInfo;
  std::uint32_t stats_interval_s = 60;  // 0 = never
  // [metrics] OpenMetrics endpoint (docs/monitoring.md): "127.0.0.1:9577" or "[::1]:9577",
  // loopback only; empty = off.
  std::string metrics_listen;
};

struct ConfigError {
  std::string message;  // names the file/flag and key
};

// What the command line asked for.
// kPurgeUser / kInvalidateKeys: operator commands run without an XMPP connection
// (--purge-user JID, --invalidate-keys JID|'*'); they need the [feed] section.
struct Invocation {
  enum class Action {
    kRun,
    kHelp,
    kVersion,
    kCheck,
    kPurgeUser,
    kInvalidateKeys
  } action = Action::kRun;
  AppConfig config;
  std::string admin_user;  // the JID (or "*") of an admin command
};

// Parses argv (and the --config file it names). `getenv` is injected for tests.
using GetEnv = std::optional<std::string> (*)(const char* name);
std::variant<Invocation, ConfigError> parse_command_line(int argc, const char* const* argv,
                                                         GetEnv getenv);
// Parses TOML text into `config` (keys present override; unknown keys are errors).
std::optional<ConfigError> apply_toml(std::string_view text, std::string_view origin,
                                      AppConfig& config, std::string& secret_file,
                                      std::string& secret_env);

std::string_view help_text();

}  // namespace rpsync::app
