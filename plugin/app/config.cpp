// SPDX-License-Identifier: MIT
#include "plugin/app/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "plugin/metrics/listen.h"
#include "plugin/store/redact.h"

namespace rpsync::app {
namespace {

struct Sources {
  std::string secret_file;
  std::string secret_env;
  std::string feed_key;  // the first [feed] key set (they need instance_id and redis://)
};

ConfigError error(std::string_view origin, std::string_view key, std::string_view what) {
  return {std::string(origin) + ": '" + std::string(key) + "' " + std::string(what)};
}

std::optional<ConfigError> set_uint(std::string_view origin, std::string_view key, std::int64_t v,
                                    std::int64_t lo, std::int64_t hi, std::uint32_t& out) {
  if (v < lo || v > hi)
    return error(origin, key,
                 "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  out = static_cast<std::uint32_t>(v);
  return std::nullopt;
}

// One setter per key; shared by the TOML file and the flags so both validate alike.
using Setter =
    std::function<std::optional<ConfigError>(std::string_view origin, std::string_view key,
                                             const std::string& value, AppConfig& c, Sources& s)>;

std::optional<ConfigError> parse_int(std::string_view origin, std::string_view key,
                                     const std::string& value, std::int64_t& out) {
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || p != value.data() + value.size())
    return error(origin, key, "must be a whole number, got '" + value + "'");
  return std::nullopt;
}

Setter uint_setter(std::int64_t lo, std::int64_t hi, std::uint32_t AppConfig::*field) {
  return [=](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
             Sources&) -> std::optional<ConfigError> {
    std::int64_t n = 0;
    if (auto e = parse_int(o, k, v, n)) return e;
    return set_uint(o, k, n, lo, hi, c.*field);
  };
}

Setter uint64_setter(std::int64_t lo, std::int64_t hi, std::uint64_t AppConfig::*field) {
  return [=](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
             Sources&) -> std::optional<ConfigError> {
    std::int64_t n = 0;
    if (auto e = parse_int(o, k, v, n)) return e;
    if (n < lo || n > hi)
      return error(o, k, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    c.*field = static_cast<std::uint64_t>(n);
    return std::nullopt;
  };
}

// The feed's names (instance id, observer group) end up in Redis keys and log lines.
bool feed_name(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  return std::all_of(v.begin(), v.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
  });
}

// Remembers that a [feed] key was given, for the cross-key check after parsing.
Setter feed_key(Setter inner) {
  return [inner = std::move(inner)](std::string_view o, std::string_view k, const std::string& v,
                                    AppConfig& c, Sources& s) -> std::optional<ConfigError> {
    if (s.feed_key.empty()) s.feed_key = std::string(o) + ": '" + std::string(k) + "'";
    return inner(o, k, v, c, s);
  };
}

Setter feed_name_setter(std::string AppConfig::*field) {
  return feed_key([=](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
                      Sources&) -> std::optional<ConfigError> {
    if (!feed_name(v)) return error(o, k, "must be 1-64 characters of A-Z a-z 0-9 _ . -");
    c.*field = v;
    return std::nullopt;
  });
}

Setter string_setter(std::string AppConfig::*field) {
  return [=](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
             Sources&) -> std::optional<ConfigError> {
    if (v.empty()) return error(o, k, "must not be empty");
    c.*field = v;
    return std::nullopt;
  };
}

// style: data table (one setter per configuration key)
const std::map<std::string, Setter, std::less<>>& setters() {
  static const std::map<std::string, Setter, std::less<>> table{
      {"server.host", string_setter(&AppConfig::host)},
      {"server.port",
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         std::int64_t n = 0;
         if (auto e = parse_int(o, k, v, n)) return e;
         if (n < 1 || n > 65535) return error(o, k, "must be a TCP port (1-65535)");
         c.port = static_cast<std::uint16_t>(n);
         return std::nullopt;
       }},
      {"server.component", string_setter(&AppConfig::component)},
      {"server.software",
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         auto software = xmpp::software_from(v);
         if (!software) return error(o, k, "must be prosody or ejabberd");
         c.software = *software;
         return std::nullopt;
       }},
      {"server.domains",  // one domain per call; the caller clears the list first
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         if (v.empty() || v.find_first_of("@/ ") != std::string::npos)
           return error(o, k, "must be a domain name, got '" + v + "'");
         c.domains.push_back(v);
         return std::nullopt;
       }},
      {"server.secret",
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         if (v.empty()) return error(o, k, "must not be empty");
         c.secret = v;
         return std::nullopt;
       }},
      {"server.secret_file",
       [](std::string_view, std::string_view, const std::string& v, AppConfig&,
          Sources& s) -> std::optional<ConfigError> {
         s.secret_file = v;
         return std::nullopt;
       }},
      {"server.secret_env",
       [](std::string_view, std::string_view, const std::string& v, AppConfig&,
          Sources& s) -> std::optional<ConfigError> {
         s.secret_env = v;
         return std::nullopt;
       }},
      {"store.uri", string_setter(&AppConfig::store)},
      {"store.queue", uint_setter(0, 1000000, &AppConfig::store_queue)},
      {"store.timeout_ms", uint_setter(100, 600000, &AppConfig::store_timeout_ms)},
      {"sessions.lifetime", uint_setter(60, 365LL * 86400, &AppConfig::lifetime_s)},
      {"sessions.max_per_user", uint_setter(1, 1000, &AppConfig::max_sessions_per_user)},
      {"limits.max_stanza_bytes", uint_setter(1024, 1 << 20, &AppConfig::max_stanza_bytes)},
      {"limits.requests_per_minute", uint_setter(1, 100000, &AppConfig::requests_per_minute)},
      {"limits.max_requests_in_flight",
       uint_setter(1, 1000000, &AppConfig::max_requests_in_flight)},
      {"limits.max_delta_items", uint_setter(1, 1000000, &AppConfig::max_delta_items)},
      {"limits.max_incoming_stanza_bytes",
       uint_setter(16 * 1024, 1 << 30, &AppConfig::max_incoming_stanza_bytes)},
      {"limits.max_result_bytes", uint_setter(16 * 1024, 1 << 30, &AppConfig::max_result_bytes)},
      {"limits.max_depth", uint_setter(4, 10000, &AppConfig::max_depth)},
      {"limits.max_attributes", uint_setter(8, 100000, &AppConfig::max_attributes)},
      {"limits.max_outgoing_stanza_bytes",
       uint_setter(16 * 1024, 1 << 30, &AppConfig::max_outgoing_stanza_bytes)},
      {"roster.cache_contacts", uint_setter(0, 100000000, &AppConfig::roster_cache_contacts)},
      {"resync.slice", uint_setter(1, 10000000, &AppConfig::resync_slice)},
      {"connection.backoff_min_ms", uint_setter(10, 600000, &AppConfig::backoff_min_ms)},
      {"connection.backoff_max_ms", uint_setter(10, 3600000, &AppConfig::backoff_max_ms)},
      {"connection.keepalive", uint_setter(1, 3600, &AppConfig::keepalive_s)},
      {"connection.write_queue_bytes",
       uint_setter(64 * 1024, 1 << 30, &AppConfig::write_queue_bytes)},
      {"log.level",
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         auto l = log::level_from(v);
         if (!l) return error(o, k, "must be one of debug, info, warn, error");
         c.log_level = *l;
         return std::nullopt;
       }},
      {"log.stats_interval", uint_setter(0, 86400, &AppConfig::stats_interval_s)},
      {"metrics.listen",
       [](std::string_view o, std::string_view k, const std::string& v, AppConfig& c,
          Sources&) -> std::optional<ConfigError> {
         auto parsed = metrics::parse_listen(v);
         if (auto* why = std::get_if<std::string>(&parsed)) return error(o, k, "refused: " + *why);
         c.metrics_listen = v;
         return std::nullopt;
       }},
      {"feed.instance_id", feed_name_setter(&AppConfig::instance_id)},
      {"feed.observer_group", feed_name_setter(&AppConfig::observer_group)},
      {"feed.retention_entries",
       feed_key(uint64_setter(0, 1LL << 40, &AppConfig::retention_entries))},
      {"feed.retention_ms",
       feed_key(uint64_setter(0, 3650LL * 86400 * 1000, &AppConfig::retention_ms))},
      {"feed.heartbeat_ttl_ms", feed_key(uint_setter(1000, 3600000, &AppConfig::heartbeat_ttl_ms))},
  };
  return table;
}

std::optional<ConfigError> set(std::string_view origin, std::string_view key,
                               const std::string& value, AppConfig& c, Sources& s) {
  auto it = setters().find(key);
  if (it == setters().end()) return error(origin, key, "is not a known setting");
  return it->second(origin, key, value, c, s);
}

std::optional<std::string> scalar_text(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
  if (auto b = n.value<bool>()) return *b ? "true" : "false";
  return std::nullopt;
}

std::optional<ConfigError> apply_table(const toml::table& root, std::string_view origin,
                                       AppConfig& c, Sources& s) {
  for (const auto& [section, node] : root) {
    const auto* table = node.as_table();
    if (!table)
      return error(origin, section.str(), "must be a [section]; see examples/rpsync.toml");
    for (const auto& [name, value] : *table) {
      std::string key = std::string(section.str()) + "." + std::string(name.str());
      if (const auto* arr = value.as_array()) {
        if (key != "server.domains") return error(origin, key, "does not take a list");
        c.domains.clear();
        for (const auto& item : *arr) {
          auto text = item.value<std::string>();
          if (!text) return error(origin, key, "must be a list of strings");
          if (auto e = set(origin, key, *text, c, s)) return e;
        }
        continue;
      }
      auto text = scalar_text(value);
      if (!text) return error(origin, key, "must be a string or a number");
      if (key == "server.domains") c.domains.clear();
      if (auto e = set(origin, key, *text, c, s)) return e;
    }
  }
  return std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Flag {
  std::string_view name;
  std::string_view key;  // setting it maps to; "" for special flags
};

constexpr Flag kFlags[] = {
    {"--host", "server.host"},
    {"--port", "server.port"},
    {"--component", "server.component"},
    {"--server-software", "server.software"},
    {"--domain", "server.domains"},
    {"--secret-file", "server.secret_file"},
    {"--secret-env", "server.secret_env"},
    {"--store", "store.uri"},
    {"--store-queue", "store.queue"},
    {"--store-timeout-ms", "store.timeout_ms"},
    {"--lifetime", "sessions.lifetime"},
    {"--max-sessions", "sessions.max_per_user"},
    {"--max-stanza-bytes", "limits.max_stanza_bytes"},
    {"--requests-per-minute", "limits.requests_per_minute"},
    {"--max-in-flight", "limits.max_requests_in_flight"},
    {"--max-delta-items", "limits.max_delta_items"},
    {"--max-incoming-stanza-bytes", "limits.max_incoming_stanza_bytes"},
    {"--max-outgoing-stanza-bytes", "limits.max_outgoing_stanza_bytes"},
    {"--roster-cache", "roster.cache_contacts"},
    {"--resync-slice", "resync.slice"},
    {"--keepalive", "connection.keepalive"},
    {"--log-level", "log.level"},
    {"--stats-interval", "log.stats_interval"},
    {"--metrics-listen", "metrics.listen"},
    {"--instance-id", "feed.instance_id"},
    {"--observer-group", "feed.observer_group"},
    {"--feed-retention-entries", "feed.retention_entries"},
    {"--feed-retention-ms", "feed.retention_ms"},
    {"--heartbeat-ttl-ms", "feed.heartbeat_ttl_ms"},
    {"--purge-user", ""},
    {"--invalidate-keys", ""},
};

// A user's bare JID for the admin commands ("*" too for --invalidate-keys).
bool admin_jid(std::string_view v, bool star_ok) {
  if (star_ok && v == "*") return true;
  const auto at = v.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < v.size() &&
         v.find_first_of("/ ") == std::string_view::npos && v.size() <= 3071;
}

}  // namespace

namespace {

// A file holding the component secret that any local account may read: said at start.
void warn_if_others_read(const std::string& path, const char* what, AppConfig& c) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return;
  c.warnings.push_back(
      std::string(what) + " '" + path + "' is readable by every local user (mode " +
      std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
      std::to_string(st.st_mode & 7) + "); make it 0600 or 0640");
}

std::optional<ConfigError> apply_toml_to(std::string_view text, std::string_view origin,
                                         AppConfig& config, Sources& s) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream ss;
    ss << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    return ConfigError{ss.str()};
  }
  return apply_table(root, origin, config, s);
}

}  // namespace

std::optional<ConfigError> apply_toml(std::string_view text, std::string_view origin,
                                      AppConfig& config, std::string& secret_file,
                                      std::string& secret_env) {
  Sources s{secret_file, secret_env, {}};
  if (auto e = apply_toml_to(text, origin, config, s)) return e;
  secret_file = s.secret_file;
  secret_env = s.secret_env;
  return std::nullopt;
}

namespace {

// What the command line says besides its action: flags are applied after the file.
struct Arguments {
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_path;
  bool done = false;  // --help or --version: nothing more is read
};

bool is_admin(Invocation::Action a) {
  return a == Invocation::Action::kPurgeUser || a == Invocation::Action::kInvalidateKeys;
}

// --purge-user / --invalidate-keys VALUE into `inv`.
std::optional<ConfigError> take_admin(const std::string& name, const std::string& value,
                                      Invocation& inv) {
  const bool purge = name == "--purge-user";
  if (is_admin(inv.action))
    return ConfigError{"give one of --purge-user and --invalidate-keys, once"};
  if (!admin_jid(value, !purge))
    return ConfigError{name + " needs a user's bare JID (user@domain)" +
                       (purge ? "" : " or '*' for every user") + ", got '" + value + "'"};
  inv.action = purge ? Invocation::Action::kPurgeUser : Invocation::Action::kInvalidateKeys;
  inv.admin_user = value;
  return std::nullopt;
}

// One option (`name`, with an inline value if `has_value`) at argv[i]; i moves past a
// separate value.
std::optional<ConfigError> take_option(std::string name, std::string value, bool has_value,
                                       int argc, const char* const* argv, int& i, Invocation& inv,
                                       Arguments& args) {
  if (name == "--secret")
    return ConfigError{
        "--secret is not accepted: a secret on the command line is visible to "
        "every user of the machine. Use --secret-file FILE or the "
        "RPSYNC_SECRET environment variable."};
  const bool known =
      name == "--config" || std::any_of(std::begin(kFlags), std::end(kFlags),
                                        [&](const Flag& f) { return f.name == name; });
  if (!known) return ConfigError{"unknown option '" + name + "' (see --help)"};
  if (!has_value) {
    if (i + 1 >= argc) return ConfigError{"option '" + name + "' needs a value"};
    value = argv[++i];
  }
  if (name == "--config")
    args.config_path = value;
  else if (name == "--purge-user" || name == "--invalidate-keys")
    return take_admin(name, value, inv);
  else
    args.flags.emplace_back(name, value);
  return std::nullopt;
}

std::optional<ConfigError> read_arguments(int argc, const char* const* argv, Invocation& inv,
                                          Arguments& args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "--version") {
      inv.action = arg == "--version" ? Invocation::Action::kVersion : Invocation::Action::kHelp;
      args.done = true;
      return std::nullopt;
    }
    if (arg == "--check") {
      inv.action = Invocation::Action::kCheck;
      continue;
    }
    std::string name(arg), value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    if (auto e = take_option(name, value, has_value, argc, argv, i, inv, args)) return e;
  }
  return std::nullopt;
}

// The config file, then the flags over it.
std::optional<ConfigError> apply_sources(const Arguments& args, AppConfig& c, Sources& s) {
  if (!args.config_path.empty()) {
    auto text = read_file(args.config_path);
    if (!text) return ConfigError{"cannot read config file '" + args.config_path + "'"};
    if (auto e = apply_toml_to(*text, args.config_path, c, s)) return *e;
  }
  bool domains_from_flags = false;
  for (const auto& [name, value] : args.flags) {
    const Flag* f = nullptr;
    for (const auto& candidate : kFlags)
      if (candidate.name == name) f = &candidate;
    if (f->key == "server.domains" && !domains_from_flags) {
      c.domains.clear();  // flags replace the file's list
      domains_from_flags = true;
    }
    if (auto e = set(name, f->key, value, c, s)) return *e;
  }
  return std::nullopt;
}

// Secret: file, then named variable, then the config file's value, then RPSYNC_SECRET.
std::optional<ConfigError> resolve_secret(const std::string& config_path, const Sources& s,
                                          const GetEnv& getenv, AppConfig& c) {
  const bool secret_in_config_file =
      s.secret_file.empty() && s.secret_env.empty() && !c.secret.empty() && !config_path.empty();
  if (!s.secret_file.empty()) warn_if_others_read(s.secret_file, "secret file", c);
  if (secret_in_config_file)
    warn_if_others_read(config_path, "config file (it holds the secret)", c);
  if (!s.secret_file.empty()) {
    auto text = read_file(s.secret_file);
    if (!text) return ConfigError{"cannot read secret file '" + s.secret_file + "'"};
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
    c.secret = *text;
    if (c.secret.empty()) return ConfigError{"secret file '" + s.secret_file + "' is empty"};
  } else if (!s.secret_env.empty()) {
    auto v = getenv(s.secret_env.c_str());
    if (!v || v->empty())
      return ConfigError{"environment variable " + s.secret_env + " (secret_env) is not set"};
    c.secret = *v;
  } else if (c.secret.empty()) {
    if (auto v = getenv("RPSYNC_SECRET"); v && !v->empty()) c.secret = *v;
  }
  return std::nullopt;
}

// What a run needs from the server settings (the admin commands talk to Redis only).
std::optional<ConfigError> check_server(const AppConfig& c, bool admin) {
  if (!admin && c.component.empty())
    return ConfigError{
        "no component JID: set server.component or --component "
        "(e.g. rpsync.example.test, as in the server's Component line)"};
  if (!admin && c.domains.empty())
    return ConfigError{
        "no served domains: set server.domains or --domain "
        "(the VirtualHosts whose users may use rpsync)"};
  if (!admin && c.secret.empty())
    return ConfigError{
        "no component secret: use secret_file / --secret-file, secret_env / "
        "--secret-env, or the RPSYNC_SECRET environment variable"};
  if (c.backoff_min_ms > c.backoff_max_ms)
    return ConfigError{"connection.backoff_min_ms is larger than connection.backoff_max_ms"};
  return std::nullopt;
}

// [feed] needs an instance id and a redis:// store; its observer group defaults to the host.
std::optional<ConfigError> check_feed(AppConfig& c, const Sources& s, bool admin) {
  const bool redis = c.store.rfind("redis://", 0) == 0;
  if (!s.feed_key.empty() && c.instance_id.empty())
    return ConfigError{s.feed_key +
                       " is set but feed.instance_id (--instance-id) is not: the "
                       "change feed needs a unique id per instance"};
  if (c.feed() && !redis)
    return ConfigError{
        "the [feed] section needs a shared store: store.uri must be "
        "redis://HOST:PORT[/DB] (now '" +
        store::redact_uri(c.store) + "'); several instances cannot share " +
        (c.store.rfind("sqlite:", 0) == 0 ? "an embedded sqlite file" : "it")};
  if (c.feed() && c.observer_group.empty()) c.observer_group = c.host;
  if (c.feed() && !feed_name(c.observer_group))
    return ConfigError{"feed.observer_group defaults to server.host '" + c.host +
                       "', which is not 1-64 characters of A-Z a-z 0-9 _ . -: set it"};
  if (admin && !c.feed())
    return ConfigError{
        "--purge-user and --invalidate-keys publish to the change feed of "
        "running instances: they need a redis:// store and feed.instance_id "
        "(use an id of its own, e.g. 'admin')"};
  return std::nullopt;
}

}  // namespace

std::variant<Invocation, ConfigError> parse_command_line(int argc, const char* const* argv,
                                                         GetEnv getenv) {
  Invocation inv;
  Sources s;
  Arguments args;
  if (auto e = read_arguments(argc, argv, inv, args)) return *e;
  if (args.done) return inv;
  if (auto e = apply_sources(args, inv.config, s)) return *e;
  if (auto e = resolve_secret(args.config_path, s, getenv, inv.config)) return *e;
  const bool admin = is_admin(inv.action);
  if (auto e = check_server(inv.config, admin)) return *e;
  if (auto e = check_feed(inv.config, s, admin)) return *e;
  return inv;
}

// style: data table (the --help text)
std::string_view help_text() {
  return R"(rpsync-component - roster presence sync for reconnecting XMPP clients

An external component (XEP-0114) that attaches to your XMPP server, watches presence
through XEP-0356 privileges and answers reconnecting clients with only what changed.

Usage: rpsync-component --config FILE [options]
       rpsync-component --component JID --domain DOMAIN --secret-file FILE [options]

Configuration (a TOML file; every key is documented in examples/rpsync.toml):
  --config FILE              read settings from FILE; flags below override it
  --check                    validate the configuration and exit

Server:
  --host HOST                server address for the component port   [127.0.0.1]
  --port PORT                server's component port                  [5347]
  --component JID            this component's JID, as in the server config (required)
  --domain DOMAIN            a served domain; repeat for several (required)
  --secret-file FILE         read the component secret from FILE
  --secret-env NAME          read the component secret from variable NAME
                             (default: RPSYNC_SECRET; never on the command line)
  --server-software NAME     prosody or ejabberd                       [prosody]
                             (detected at connect anyway; ejabberd without
                             mod_rpsync_gate's session reports: syncs that cannot be
                             proven fail, docs/ejabberd.md)

Storage and sessions:
  --store URI                sqlite:PATH (embedded, default sqlite:rpsync.db),
                             redis://HOST:PORT[/DB][?password=..&prefix=..] (shared by
                             several instances), or memory: (lost at exit)
  --store-queue N            batches waiting for the store's worker thread;
                             0 = store calls on the event loop           [256]
  --store-timeout-ms MS      a request not durable by then: not-ready    [5000]
  --lifetime SECONDS         how long a key lives without a checkpoint [604800]
  --max-sessions N           tracked sessions per user                 [8]

Limits:
  --max-stanza-bytes N       larger requests get policy-violation      [16384]
  --requests-per-minute N    per user; more get resource-constraint    [30]
  --max-in-flight N          requests in progress, all users; more: busy [1024]
  --max-delta-items N        larger deltas fail with too-large         [10000]
  --max-incoming-stanza-bytes N  larger stanzas from the server are skipped [3145728]
  --max-outgoing-stanza-bytes N  never send a larger stanza (too-large)   [524288]
  --keepalive SECONDS        whitespace keepalive and dead-peer check  [60]
  --roster-cache CONTACTS    contacts held by the roster cache, 0 = off [200000]
                             (with mod_rpsync_gate an unchanged roster is not re-sent)
  --resync-slice N           resources taken offline per loop turn at the
                             end of a re-learn of presence             [2000]

Several instances on one Redis (needs a redis:// store; see docs/multi-instance.md):
  --instance-id ID           this instance's unique id: turns the change feed on
  --observer-group NAME      instances attached to one XMPP server  [server host]
  --feed-retention-entries N feed entries kept, 0 = no bound       [1000000]
  --feed-retention-ms MS     feed entries' maximum age, 0 = none    [0]
  --heartbeat-ttl-ms MS      group continuity heartbeat lifetime    [15000]
  --purge-user JID           forget JID's sessions and roster at every instance, then exit
  --invalidate-keys JID|'*'  make JID's (everyone's) keys fail with continuity-lost, exit
                             (both run without an XMPP connection; exit 0 when published)

Operating:
  --log-level LEVEL          debug, info, warn, error                  [info]
  --stats-interval SECONDS   log counters every N seconds, 0 = never   [60]
  --metrics-listen ADDR:PORT OpenMetrics at http://ADDR:PORT/metrics, loopback only
                             (127.0.0.1:9577 or [::1]:9577; docs/monitoring.md)  [off]
  --help, --version

Server side: Prosody needs mod_privilege on the VirtualHost and the component, with
  privileged_entities = { ["rpsync.example.test"] = { roster = "get"; presence = "roster"; } }
ejabberd needs mod_privilege with roster: get and presence: roster access rules.
See examples/ for working snippets. SIGTERM or SIGINT closes the stream and exits cleanly;
SIGHUP re-reads the configuration (log level, stats interval, request limits apply live).
)";
}

}  // namespace rpsync::app
