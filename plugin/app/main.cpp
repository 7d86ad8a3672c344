// SPDX-License-Identifier: MIT
// rpsync-component: wiring only. Parses the configuration, opens the store, restores the
// engine, connects to the server and runs the event loop until SIGTERM or SIGINT, then
// closes the stream and makes the store durable. SIGHUP re-reads the configuration
// (reload.h); systemd is told READY=1 once connected and privileged (lifecycle.h); an
// optional metrics endpoint runs on its own thread (plugin/metrics). With [feed] (several
// instances on one Redis) the change feed is wired in by Replica (replica.h); the admin
// commands (--purge-user, --invalidate-keys) run without a connection (admin.h).
#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "plugin/app/admin.h"
#include "plugin/app/config.h"
#include "plugin/app/level_logger.h"
#include "plugin/app/lifecycle.h"
#include "plugin/app/loop_lag.h"
#include "plugin/app/metrics_feed.h"
#include "plugin/app/notify.h"
#include "plugin/app/reload.h"
#include "plugin/app/server_probe.h"
#include "plugin/app/store_check.h"
#include "plugin/app/timed_store.h"
#include "plugin/core/engine.h"
#include "plugin/feed/replica.h"
#include "plugin/log/log.h"
#include "plugin/metrics/endpoint.h"
#include "plugin/metrics/render.h"
#include "plugin/service/service.h"
#include "plugin/store/redact.h"
#include "plugin/store/redis_store.h"
#include "plugin/store/store.h"
#include "plugin/store/store_worker.h"
#include "plugin/xmpp/connection.h"

namespace rpsync::app {
namespace {

constexpr std::string_view kVersion = "0.1.0";
constexpr auto kTick = std::chrono::milliseconds(250);
// Shutdown: the longest wait for the store's worker to make its queue durable.
constexpr auto kDrainBound = std::chrono::milliseconds(10000);

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

// A store URI for logs and --check: its secrets replaced (store::redact_uri()).
std::string redacted(std::string_view uri) {
  return store::redact_uri(uri);
}

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The service's view of the connection.
class ConnectionTransport final : public service::Transport {
 public:
  explicit ConnectionTransport(xmpp::Connection*& conn) : conn_(conn) {}
  bool send(xml::Element stanza) override {
    return conn_ && conn_->send(stanza) == xmpp::SendResult::kQueued;
  }
  void request(xml::Element iq, std::chrono::milliseconds timeout, Reply done) override {
    conn_->send_iq(std::move(iq), timeout, std::move(done));
  }

 private:
  xmpp::Connection*& conn_;
};

// Connection events into the service.
class Bridge final : public xmpp::Handler {
 public:
  Bridge(service::Service& service, xmpp::Connection*& conn, log::Logger& log, Replica* replica,
         Lifecycle& lifecycle, ServerProbe& probe)
      : service_(service),
        conn_(conn),
        log_(log),
        replica_(replica),
        lifecycle_(lifecycle),
        probe_(probe) {}
  void on_connected(const xmpp::Privileges& privileges) override {
    service_.on_connected(conn_->ready());
    lifecycle_.connected(conn_->ready());
    std::string ns;
    if (!privileges.hosts.empty()) ns = privileges.hosts.begin()->second.ns;
    probe_.connected(
        [this](xml::Element iq, std::chrono::milliseconds timeout, ServerProbe::Reply done) {
          conn_->send_iq(std::move(iq), timeout, std::move(done));
        },
        ns);
  }
  void on_disconnected(const xmpp::DisconnectReason& reason) override {
    probe_.disconnected();
    lifecycle_.disconnected(describe(reason));
    if (!reason.was_authenticated) return;
    service_.on_disconnected();
    if (replica_) replica_->on_disconnected();
  }
  void on_stanza(xml::Element stanza) override { service_.on_stanza(stanza); }
  void on_skipped(xml::Element head, xml::SkipReason why) override {
    service_.on_skipped(head, why);
  }
  void on_privileges_changed(const xmpp::Privileges&) override {
    service_.on_privileges(conn_->ready());
    lifecycle_.privileges(conn_->ready());
    log_.info("app", "privileges.changed", {{"ready", conn_->ready()}});
  }

 private:
  static std::string describe(const xmpp::DisconnectReason& r) {
    std::string s(xmpp::to_string(r.kind));
    if (!r.condition.empty()) s += " " + r.condition;
    if (!r.detail.empty()) s += ": " + r.detail;
    return s;
  }

  service::Service& service_;
  xmpp::Connection*& conn_;
  log::Logger& log_;
  Replica* replica_;
  Lifecycle& lifecycle_;
  ServerProbe& probe_;
};

void log_counters(log::Logger& log, const service::Service& service, const core::EngineStats& s,
                  const LoopState& state, double uptime_s, double loop_lag_max_ms) {
  const service::Counters& c = service.counters();
  std::string failures;
  for (const auto& [reason, n] : c.failures)
    failures += (failures.empty() ? "" : ",") + reason + ":" + std::to_string(n);
  log.info("app", "stats.service",
           {{"ready", state.ready},
            {"connected", state.connected},
            {"privileged", state.privileged},
            {"gate", state.gate_feature < 0 ? "unknown"
                     : state.gate_feature   ? "yes"
                                            : "no"},
            {"uptime_s", static_cast<std::uint64_t>(uptime_s)},
            {"presence_in", c.presence_in},
            {"enables", c.enables},
            {"checkpoints", c.checkpoints},
            {"syncs", c.syncs},
            {"deltas", c.deltas},
            {"empty_deltas", c.empty_deltas},
            {"failures", failures.empty() ? "-" : failures},
            {"delta_bytes", c.delta_bytes},
            {"full_bytes_estimate", c.full_bytes},
            {"bytes_saved", c.full_bytes > c.delta_bytes ? c.full_bytes - c.delta_bytes : 0},
            {"errors", c.errors},
            {"rate_limited", c.rate_limited},
            {"oversized", c.oversized},
            {"roster_cache_hits", c.roster_cache_hits},
            {"roster_cache_misses", c.roster_cache_misses},
            {"roster_refetches", c.roster_refetches},
            {"gap_keys_kept", c.gap_keys_kept},
            {"gap_keys_lost", c.gap_keys_lost},
            {"roster_cache_users", service.roster_cache().users()},
            {"resources", s.available},
            {"users", s.users},
            {"sessions", s.sessions},
            {"loop_lag_max_ms", static_cast<std::uint64_t>(loop_lag_max_ms + 0.5)}});
}

void log_feed_counters(log::Logger& log, const Replica& replica) {
  const ReplicaCounters c = replica.counters();
  log.info("app", "stats.feed",
           {{"ready", c.ready},
            {"applied", c.reader.applied},
            {"own", c.reader.own},
            {"duplicates", c.reader.duplicates_by_id + c.reader.duplicates_by_writer},
            {"redelivered", c.reader.redelivered},
            {"feed_gaps", c.reader.gaps},
            {"feed_failures", c.reader.failures},
            {"last_applied", c.reader.last_applied},
            {"group_epoch", c.group_epoch},
            {"beats", c.beats},
            {"beat_failures", c.beat_failures},
            {"continuity_kept", c.decisions_kept},
            {"continuity_lost", c.decisions_lost},
            {"group_gaps", c.group_gaps},
            {"own_gaps_bridged", c.own_gaps_bridged},
            {"own_gaps_lost", c.own_gaps_lost},
            {"keys_readopted", c.keys_readopted}});
}

using Reparse = std::function<std::variant<Invocation, ConfigError>()>;

// Opens (and with [feed] prepares) the store; null after logging why.
std::unique_ptr<store::Store> open_configured_store(const AppConfig& config, log::Logger& logger,
                                                    std::unique_ptr<Replica>& replica,
                                                    store::RedisStore*& redis) {
  if (!config.feed()) {
    store::StoreOptions options;
    // On the store's thread (its worker or the loop); the logger may be called from any.
    options.on_fold = [&logger](const store::FoldReport& f) {
      logger.info("store", "store.folded",
                  {{"ok", f.ok},
                   {"log_records", f.log_records},
                   {"rows", f.rows},
                   {"base_rows", f.base_rows},
                   {"ms", static_cast<std::uint64_t>(f.ms + 0.5)}});
    };
    auto opened = store::open_store(config.store, options);
    if (!opened) {
      logger.error("app", "store.open_failed",
                   {{"uri", redacted(config.store)}, {"error", opened.status().message()}});
      return nullptr;
    }
    return std::move(opened).value();
  }
  auto target = store::parse_redis_uri(config.store);
  std::unique_ptr<store::RedisStore> opened;
  if (target) {
    if (auto r = store::RedisStore::open_redis(*target, {}))
      opened = std::move(r).value();
    else
      target = r.status();
  }
  // The consumer group and baseline right BEFORE the image is read (plugin/feed/README.md).
  if (target && opened) {
    if (auto p = Replica::prepare(config, *target, logger))
      replica = std::move(p).value();
    else
      target = p.status();
  }
  if (!target) {
    logger.error("app", "store.open_failed",
                 {{"uri", redacted(config.store)}, {"error", target.status().message()}});
    return nullptr;
  }
  redis = opened.get();
  return opened;
}

// SIGHUP: re-read the configuration, apply the live settings, name the others, flush the
// store. An invalid file changes nothing.
void reload(const Reparse& reparse, AppConfig& running, LevelLogger& logger,
            service::Service& service, Lifecycle& lifecycle) {
  lifecycle.reload_begin();
  auto parsed = reparse();
  if (const auto* err = std::get_if<ConfigError>(&parsed)) {
    logger.error("app", "config.reload_failed",
                 {{"reason", err->message}, {"effect", "the running configuration is kept"}});
    lifecycle.reload_end(false);
    return;
  }
  const AppConfig& loaded = std::get<Invocation>(parsed).config;
  const ReloadPlan plan = plan_reload(running, loaded);
  running = with_live_settings(running, loaded);
  logger.set_level(running.log_level);
  service.set_request_limits(running.requests_per_minute, running.max_stanza_bytes);
  if (!plan.restart.empty())
    logger.warn("app", "config.restart_needed",
                {{"settings", joined(plan.restart)},
                 {"effect", "kept at their running values until the component restarts"}});
  const bool flushed = service.flush();
  logger.info("app", "config.reloaded",
              {{"applied", joined(plan.live)},
               {"restart_needed", joined(plan.restart)},
               {"store_flushed", flushed}});
  lifecycle.reload_end(true);
}

// The metrics endpoint when [metrics] listen is set; null when off or (logged) unusable.
std::unique_ptr<metrics::Endpoint> start_metrics(const AppConfig& config,
                                                 const metrics::Published& published,
                                                 log::Logger& logger, bool* failed) {
  *failed = false;
  if (config.metrics_listen.empty()) return nullptr;
  auto at = std::get<metrics::ListenAddress>(metrics::parse_listen(config.metrics_listen));
  const auto start = std::chrono::steady_clock::now();
  std::string why;
  auto endpoint = metrics::Endpoint::start(
      at,
      [&published, start] {
        const double up =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return metrics::render(published.latest(), up);
      },
      &why);
  if (!endpoint) {
    logger.error("app", "metrics.listen_failed",
                 {{"listen", config.metrics_listen}, {"error", why}});
    *failed = true;
    return nullptr;
  }
  logger.info("app", "metrics.listening",
              {{"url", "http://" + (at.v6 ? "[" + at.ip + "]" : at.ip) + ":" +
                           std::to_string(at.port) + "/metrics"}});
  return endpoint;
}

void apply_keepalive_bound(const AppConfig& config, xmpp::ComponentConfig& cc,
                           log::Logger& logger) {
  // Group continuity trusts a heartbeat to mean "observing": a dead server connection
  // must be noticed (keepalive + ping timeout) well within the heartbeat ttl, or this
  // instance would vouch for time it did not observe (plugin/feed/continuity.h).
  // Not below 5 s each: a busy server (or this loop stuck in a slow Redis fsync) can be
  // silent for seconds, and a false disconnect of every instance at once loses the
  // group's continuity (measured: 1 s + 1 s did, under rpsync_multi_bench's ingest).
  using Ms = std::chrono::milliseconds;
  const Ms bound = std::max(Ms(config.heartbeat_ttl_ms / 3), Ms(5000));
  cc.keepalive_interval = std::min<Ms>(cc.keepalive_interval, bound);
  cc.ping_timeout = std::min<Ms>(cc.ping_timeout, bound);
  const Ms detection = cc.keepalive_interval + cc.ping_timeout;
  if (detection >= Ms(config.heartbeat_ttl_ms))
    logger.warn("app", "keepalive.slower_than_heartbeat_ttl",
                {{"heartbeat_ttl_ms", config.heartbeat_ttl_ms},
                 {"detection_ms", detection.count()},
                 {"effect", "an instance may vouch for time it did not observe"}});
  logger.info("app", "keepalive.bounded",
              {{"keepalive_ms", cc.keepalive_interval.count()},
               {"ping_timeout_ms", cc.ping_timeout.count()},
               {"heartbeat_ttl_ms", config.heartbeat_ttl_ms}});
}

service::ServiceConfig service_config(const AppConfig& config) {
  service::ServiceConfig sc;
  sc.component_jid = config.component;
  sc.domains.insert(config.domains.begin(), config.domains.end());
  sc.requests_per_minute = config.requests_per_minute;
  sc.max_in_flight = config.max_requests_in_flight;
  sc.max_request_bytes = config.max_stanza_bytes;
  // ejabberd until disco#info says whether mod_rpsync_gate reports sessions there; requests
  // wait for that answer at every connect (ServerProbe, server_view()).
  sc.server_view = config.software == xmpp::Software::kEjabberd ? service::ServerView::kUnreported
                                                                : service::ServerView::kResends;
  sc.learn_view_on_connect = true;
  sc.version = std::string(kVersion);
  sc.limits.max_delta_items = config.max_delta_items;
  sc.max_answer_bytes = config.max_outgoing_stanza_bytes;
  sc.roster_cache_contacts = config.roster_cache_contacts;
  sc.resync_slice = config.resync_slice;
  sc.store_timeout = std::chrono::milliseconds(config.store_timeout_ms);
  sc.check_store_first = config.feed();  // a shared store (Service::store_usable())
  // With the feed the store is shared: clear_presence() on a reconnect would publish an
  // erase of every resource to every peer (plugin/feed/README.md).
  // With Prosody (which re-sends every presence on connect) a disconnect's gap is left
  // to the Replica: keys survive it when a peer observed throughout (replica.h).
  if (config.feed()) {
    const bool resync = config.software == xmpp::Software::kProsody;
    sc.on_connect = resync ? service::ServiceConfig::OnConnect::kResync
                           : service::ServiceConfig::OnConnect::kKeep;
    sc.gap_on_disconnect = !resync;
  } else {
    // One instance, its own store: a reconnect or a start is a gap decided per user once
    // the view is re-learned; keys survive for users whose contacts are all on hosts that
    // witnessed their re-send with <sessions-sent/> (mod_rpsync_gate on Prosody and on
    // ejabberd), every other key fails with continuity-lost as before.
    sc.close_gaps_per_user = true;
  }
  return sc;
}

xmpp::ComponentConfig component_config(const AppConfig& config) {
  xmpp::ComponentConfig cc;
  cc.host = config.host;
  cc.port = config.port;
  cc.component_jid = config.component;
  cc.secret = config.secret;
  cc.served_hosts = config.domains;
  cc.backoff_min = std::chrono::milliseconds(config.backoff_min_ms);
  cc.backoff_max = std::chrono::milliseconds(config.backoff_max_ms);
  cc.keepalive_interval = std::chrono::seconds(config.keepalive_s);
  cc.write_queue_limit = config.write_queue_bytes;
  cc.max_stanza_size = config.max_incoming_stanza_bytes;
  cc.max_result_size = config.max_result_bytes;
  cc.max_depth = config.max_depth;
  cc.max_attributes = config.max_attributes;
  cc.max_outgoing_stanza_size = config.max_outgoing_stanza_bytes;
  return cc;
}

// A timer that calls `work` every `every()` (re-read at each arm; zero stops it).
class Periodic {
 public:
  Periodic(asio::io_context& io, std::function<std::chrono::milliseconds()> every,
           std::function<void()> work)
      : timer_(io), every_(std::move(every)), work_(std::move(work)) {}
  void arm() {
    const auto every = every_();
    if (every.count() <= 0) return;
    timer_.expires_after(every);
    timer_.async_wait([this](std::error_code ec) {
      if (ec) return;
      work_();
      arm();
    });
  }
  void rearm() {
    timer_.cancel();
    arm();
  }
  void cancel() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
  std::function<std::chrono::milliseconds()> every_;
  std::function<void()> work_;
};

// The engine restored from the store's image; false after logging why not.
bool restore(const AppConfig& config, store::Store& store, core::Engine& engine,
             log::Logger& logger) {
  auto image = store.load();
  if (!image) {
    logger.error("app", "store.load_failed",
                 {{"uri", redacted(config.store)}, {"error", image.status().message()}});
    return false;
  }
  engine.restore(*image);
  // One instance: a restored key whose recorded digest equals the restored view is exactly
  // what its client held; taken again before the re-learn, the downtime's changes become
  // new versions after it, and the first connection's gap decision (close_gaps_per_user)
  // keeps or fails it per user. With [feed] the Replica decides after its witness.
  const std::size_t readopted = config.feed() ? 0 : engine.readopt_restored();
  logger.info("app", "store.loaded",
              {{"uri", redacted(config.store)},
               {"resources", image->resources.size()},
               {"sessions", image->sessions.size()},
               {"epoch", image->epoch},
               {"keys_taken_again", readopted},
               {"note", config.feed() ? "keys from before this start fail with continuity-lost "
                                        "unless the observer group bridged the restart"
                                      : "keys taken again are decided per user at the first "
                                        "connection; the others fail with continuity-lost"}});
  return true;
}

// What the server reports (plugin/service/server_view.h): Prosody re-sends and forwards
// every session end; ejabberd (configured or detected) only with mod_rpsync_gate's
// '#sessions' feature on every served domain.
service::ServerView server_view(xmpp::Software configured, xmpp::Software detected,
                                bool sessions_feature) {
  const bool ejabberd =
      detected == xmpp::Software::kEjabberd ||
      (detected == xmpp::Software::kUnknown && configured == xmpp::Software::kEjabberd);
  if (!ejabberd) return service::ServerView::kResends;
  return sessions_feature ? service::ServerView::kReported : service::ServerView::kUnreported;
}

core::EngineOptions engine_options(const AppConfig& config) {
  core::EngineOptions eo;
  eo.lifetime_s = config.lifetime_s;
  eo.max_sessions_per_user = config.max_sessions_per_user;
  eo.limits.max_delta_items = config.max_delta_items;
  eo.clock = wall_ms;           // key lifetimes outlive restarts: wall clock, not steady
  eo.history = !config.feed();  // instances sharing a store: versions not comparable
  return eo;
}

// The running component: every part run() wires together, as members in the order they
// are built (so they are destroyed in the reverse order), and the steps of a run.
class Component {
 public:
  Component(const AppConfig& config, const Reparse& reparse)
      : config_(config),
        reparse_(reparse),
        signals_(io_, SIGINT, SIGTERM),
        hup_(io_, SIGHUP),
        logger_(out_, config.log_level),
        running_(config),
        lifecycle_(notifier_, logger_),
        engine_(engine_options(config)),
        transport_(conn_) {
    // Signals first (above): SIGHUP's default action would end the process while the store
    // loads; one that arrives before the loop runs is handled once it does.
    for (const auto& w : config.warnings)
      logger_.warn("app", "config.insecure_file", {{"warning", w}});
  }

  // Open store and service, connect, serve until a signal, shut down: the exit code.
  int run() {
    if (!open_store() || !start_service()) return 1;
    connect();
    arm_timers();
    arm_hup();
    arm_signals();
    serve();
    return shut_down();
  }

 private:
  // The store opened (with [feed] prepared) and the engine restored from it.
  bool open_store() {
    raw_store_ = open_configured_store(config_, logger_, replica_, redis_);
    if (!raw_store_) return false;
    store_.emplace(*raw_store_);
    return restore(config_, *store_, engine_, logger_);
  }

  // The metrics endpoint and the service; the restore's new epoch made durable first.
  bool start_service() {
    // Before anything starts a thread: a port already in use ends the start here.
    bool metrics_failed = false;
    endpoint_ = start_metrics(config_, published_, logger_, &metrics_failed);
    if (metrics_failed) return false;
    if (use_worker()) {
      // From here on only the worker touches the store (its completions come back on the
      // loop); with [feed] the commit hook reads the engine, so the store stays inline.
      worker_.emplace(*store_, store::WorkerOptions{config_.store_queue, kDrainBound},
                      [this](std::function<void()> f) { asio::post(io_, std::move(f)); });
      service_.emplace(service_config(config_), engine_, *worker_, transport_, logger_, wall_ms);
    } else {
      service_.emplace(service_config(config_), engine_, *store_, transport_, logger_, wall_ms);
    }
    service_->set_post([this](std::function<void()> f) { asio::post(io_, std::move(f)); });
    logger_.info("app", "store.mode",
                 {{"worker", worker_ ? "yes" : "no"},
                  {"queue", worker_ ? config_.store_queue : 0},
                  {"timeout_ms", config_.store_timeout_ms}});
    if (!service_->flush()) return false;
    if (replica_)
      replica_->start(engine_, *redis_, *service_,
                      [this](std::function<void()> f) { asio::post(io_, std::move(f)); });
    return true;
  }

  bool use_worker() const { return config_.store_queue > 0 && !config_.feed(); }

  // The server probe and the connection (not started yet).
  void connect() {
    probe_.emplace(config_.component, config_.domains, config_.software, logger_);
    probe_->on_detected([this](xmpp::Software sw) {
      service_->set_server_view(server_view(config_.software, sw, probe_->sessions_feature()));
    });
    xmpp::ComponentConfig cc = component_config(config_);
    if (replica_) apply_keepalive_bound(config_, cc, logger_);
    bridge_.emplace(*service_, conn_, logger_, replica_.get(), lifecycle_, *probe_);
    connection_.emplace(io_, cc, *bridge_, logger_);
    conn_ = &*connection_;
  }

  LoopState loop_state() const {
    return LoopState{service_->ready(), lifecycle_.connected(), lifecycle_.privileged(),
                     probe_->gate_feature()};
  }

  void log_stats() {
    log_counters(logger_, *service_, engine_.stats(), loop_state(), lifecycle_.uptime_s(),
                 loop_lag_.take_interval_max());
    if (replica_) log_feed_counters(logger_, *replica_);
  }

  // The service tick, the stats line and the systemd watchdog.
  void arm_timers() {
    tick_.emplace(
        io_, [] { return std::chrono::milliseconds(kTick); },
        [this] {
          service_->tick();
          if (replica_) replica_->tick(wall_ms());
          if (endpoint_)
            published_.publish(snapshot_of(service_->counters(), loop_state(), store_->commits(),
                                           loop_lag_.recent_max()));
        });
    tick_->arm();
    loop_lag_.start();
    stats_.emplace(
        io_, [this] { return std::chrono::milliseconds(running_.stats_interval_s * 1000LL); },
        [this] { log_stats(); });
    stats_->arm();
    const auto watchdog_every =
        std::chrono::duration_cast<std::chrono::milliseconds>(notifier_.watchdog_interval());
    watchdog_.emplace(
        io_, [watchdog_every] { return watchdog_every; }, [this] { notifier_.watchdog(); });
    watchdog_->arm();
    if (watchdog_every.count() > 0)
      logger_.info("app", "systemd.watchdog", {{"interval_ms", watchdog_every.count()}});
  }

  // SIGHUP: reload the configuration (reload()).
  void arm_hup() {
    hup_.async_wait([this](std::error_code ec, int) {
      if (ec) return;
      const auto interval = running_.stats_interval_s;
      reload(reparse_, running_, logger_, *service_, lifecycle_);
      if (interval != running_.stats_interval_s) stats_->rearm();
      arm_hup();
    });
  }

  // SIGINT/SIGTERM: close the stream, then stop the loop; a second one stops it at once.
  void arm_signals() {
    signals_.async_wait([this](std::error_code ec, int signo) {
      if (ec) return;
      if (stopping_) {
        logger_.warn("app", "stop.forced",
                     {{"reason", "second signal"}, {"effect", "exiting without a clean close"}});
        io_.stop();
        return;
      }
      stopping_ = true;
      lifecycle_.stopping();
      logger_.info("app", "stop.requested", {{"signal", signo}});
      connection_->stop([this] {
        tick_->cancel();
        loop_lag_.cancel();
        stats_->cancel();
        watchdog_->cancel();
        hup_.cancel();
        signals_.cancel();
        io_.stop();
      });
      arm_signals();
    });
  }

  // Starts the connection and runs the event loop until it is stopped.
  void serve() {
    logger_.info(
        "app", "component.starting",
        {{"version", kVersion},
         {"component", config_.component},
         {"server", config_.host + ":" + std::to_string(config_.port)},
         {"store", redacted(config_.store)},
         {"feed", replica_ ? replica_->config().instance + "@" + replica_->config().observer_group
                           : std::string("off")},
         {"systemd", Notifier::compiled_in() ? "yes" : "not compiled in"}});
    lifecycle_.connecting(config_.host + ":" + std::to_string(config_.port));
    connection_->start();
    io_.run();
  }

  // After the loop: the store made durable and the last counters logged; the exit code.
  int shut_down() {
    // The reader's thread posts into `io`: join it before anything it uses goes away.
    if (replica_) replica_->stop();
    endpoint_.reset();
    const bool flushed = service_->flush();
    log_stats();
    logger_.info("app", "component.stopped", {{"store_flushed", flushed}});
    return flushed ? 0 : 1;
  }

  const AppConfig& config_;
  const Reparse& reparse_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  log::StderrLogger out_{log::Level::kDebug};
  LevelLogger logger_;
  AppConfig running_;
  Notifier notifier_;
  Lifecycle lifecycle_;
  core::Engine engine_;
  store::RedisStore* redis_ = nullptr;  // the feed's commit hook goes on it
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<store::Store> raw_store_;
  std::optional<TimedStore> store_;
  std::optional<store::StoreWorker> worker_;  // owns store_ while it exists
  metrics::Published published_;
  std::unique_ptr<metrics::Endpoint> endpoint_;
  xmpp::Connection* conn_ = nullptr;
  ConnectionTransport transport_;
  std::optional<service::Service> service_;
  std::optional<ServerProbe> probe_;
  std::optional<Bridge> bridge_;
  std::optional<xmpp::Connection> connection_;
  std::optional<Periodic> tick_;
  std::optional<Periodic> stats_;
  std::optional<Periodic> watchdog_;
  LoopLag loop_lag_{io_};
  bool stopping_ = false;
};

int run(const AppConfig& config, const Reparse& reparse) {
  Component component(config, reparse);
  return component.run();
}
}  // namespace
}  // namespace rpsync::app

int main(int argc, char** argv) {
  using rpsync::app::Invocation;
  auto parsed = rpsync::app::parse_command_line(argc, argv, rpsync::app::env);
  if (auto* err = std::get_if<rpsync::app::ConfigError>(&parsed)) {
    std::fprintf(stderr, "rpsync-component: %s\n", err->message.c_str());
    return 2;
  }
  const auto& inv = std::get<Invocation>(parsed);
  switch (inv.action) {
    case Invocation::Action::kHelp:
      std::fwrite(rpsync::app::help_text().data(), 1, rpsync::app::help_text().size(), stdout);
      return 0;
    case Invocation::Action::kVersion:
      std::printf("rpsync-component %s\n", std::string(rpsync::app::kVersion).c_str());
      return 0;
    case Invocation::Action::kCheck:
      if (auto bad = rpsync::app::check_store(inv.config.store)) {
        std::fprintf(stderr, "rpsync-component: %s\n", bad->c_str());
        return 1;
      }
      std::printf("configuration OK: component %s on %s:%u, %zu domain(s), store %s\n",
                  inv.config.component.c_str(), inv.config.host.c_str(), inv.config.port,
                  inv.config.domains.size(), rpsync::app::redacted(inv.config.store).c_str());
      for (const auto& w : inv.config.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
      if (inv.config.feed())
        std::printf(
            "change feed on: instance %s, observer group %s, retention %llu entries / "
            "%llu ms, heartbeat ttl %u ms\n",
            inv.config.instance_id.c_str(), inv.config.observer_group.c_str(),
            static_cast<unsigned long long>(inv.config.retention_entries),
            static_cast<unsigned long long>(inv.config.retention_ms), inv.config.heartbeat_ttl_ms);
      return 0;
    case Invocation::Action::kPurgeUser:
    case Invocation::Action::kInvalidateKeys:
      return rpsync::app::run_admin(inv);
    case Invocation::Action::kRun:
      break;
  }
  // SIGHUP re-parses the same command line (and the config file it names).
  return rpsync::app::run(inv.config, [argc, argv] {
    return rpsync::app::parse_command_line(argc, argv, rpsync::app::env);
  });
}
