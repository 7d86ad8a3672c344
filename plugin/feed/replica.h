// SPDX-License-Identifier: MIT
// The change feed of several instances on one Redis, wired into one running
// rpsync-component exactly as plugin/feed/README.md "Wiring in the component" says:
//
//   prepare()   right BEFORE the store image is loaded: the instance's consumer group and
//               the baseline (feed entries up to it are in the image, never applied again)
//   start()     after Engine::restore(): the commit hook (every store commit carries its
//               feed entry in the same MULTI/EXEC) and the reader, whose entries are applied
//               on the component's event loop through `executor` (asio::post)
//   tick()      on the service tick: feed readiness -> Service::set_blocked (not-ready until
//               the reader is connected and caught up, again after every outage); group
//               continuity heartbeats every ttl/3 while the service observes its server,
//               a decision after this instance's own gap, engine.gap() when the group epoch
//               rises (every instance was cut off at once)
//   on_disconnected()  ends this instance's run (its own gap starts)
//
// This instance's own gap (a disconnect from its server) with a service that re-learns
// presence on connect (OnConnect::kResync, Prosody) does not invalidate its keys at once
// (start() turns the service's gap_on_disconnect off): requests get not-ready until
//   - the resync after the reconnect has ended with the shared store's rows as witness
//     (Engine::end_resync(rows)): what the server did not re-send is taken from what the
//     peers committed meanwhile, not assumed offline, and
//   - group continuity decided: kKept (a peer of the observer group observed throughout)
//     keeps the keys from before the gap valid, kLost invalidates them (engine gap()).
// Reading the rows failing also invalidates them. A start is handled the same way: the
// restore invalidated every key, and when the start's gap is kept, the restored key
// moments whose recorded digest equals the re-learned view are taken again
// (Engine::readopt_restored(); a client whose contacts changed while the instance was
// down still gets continuity-lost: its state at the key is not known here). Feed gaps
// still invalidate at once.
//   stop()      joins the reader; call it on the loop's thread before the loop is destroyed
//
// Every state change is logged once (feed.ready / feed.not_ready, gap.detected,
// continuity.kept / .pending / .lost, the last also when the group epoch rose). A feed
// gap is engine.gap() + flush.
//
// Threading: everything on the component's event loop thread. Heartbeats and decisions are
// blocking Redis round trips (bounded by the store URI's timeout_ms).
// Lifetime: engine, store, service and logger passed in must outlive the Replica.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/app/config.h"
#include "plugin/core/engine.h"
#include "plugin/feed/apply.h"
#include "plugin/feed/continuity.h"
#include "plugin/feed/feed_reader.h"
#include "plugin/feed/feed_writer.h"
#include "plugin/log/log.h"
#include "plugin/service/service.h"
#include "plugin/store/redis_store.h"

namespace rpsync::app {

// The feed identity of `config` ([feed] keys); check_config() names what is wrong.
feed::FeedConfig feed_config(const AppConfig& config);

struct ReplicaCounters {
  feed::ReaderStats reader;
  std::uint64_t group_epoch = 0;
  std::uint64_t beats = 0;
  std::uint64_t beat_failures = 0;
  std::uint64_t decisions_kept = 0;
  std::uint64_t decisions_lost = 0;
  std::uint64_t group_gaps = 0;        // engine.gap() because the group epoch rose
  std::uint64_t own_gaps_bridged = 0;  // own gaps after which the keys stayed valid
  std::uint64_t own_gaps_lost = 0;     // own gaps that invalidated this instance's keys
  std::uint64_t keys_readopted = 0;    // restored key moments taken again after a restart
  bool ready = false;                  // the feed blocks nothing
};

class Replica {
 public:
  // kUnavailable or kTimeout when Redis is unreachable, kInvalidArgument when the config
  // is unusable.
  static StatusOr<std::unique_ptr<Replica>> prepare(const AppConfig& config,
                                                    const store::RedisTarget& target,
                                                    log::Logger& log);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void start(core::Engine& engine, store::RedisStore& store, service::Service& service,
             feed::Executor executor);
  void tick(std::int64_t now_ms);
  void on_disconnected();
  void stop();
  ReplicaCounters counters() const;
  const feed::FeedConfig& config() const { return fc_; }

 private:
  Replica(feed::FeedConfig fc, store::RedisTarget target, std::string baseline, std::int64_t ttl_ms,
          log::Logger& log);
  void update_readiness();
  void beat();
  bool on_entry(const feed::Entry& e, const feed::Self& self);
  std::string views_differing(const feed::Entry& e) const;
  void on_gap(const std::string& why);
  // A group epoch seen on a beat: engine.gap() when it rose (every instance was cut off).
  void note_group_epoch(std::uint64_t epoch, std::string_view why);
  void on_decision(const feed::Decision& d);
  std::optional<std::vector<core::ResourceRecord>> witness();
  void close_own_gap(bool kept, std::string_view why);

  feed::FeedConfig fc_;
  store::RedisTarget target_;
  std::string baseline_;
  log::Logger& log_;
  core::Engine* engine_ = nullptr;
  service::Service* service_ = nullptr;
  store::RedisStore* store_ = nullptr;
  std::unique_ptr<feed::FeedReader> reader_;
  feed::GroupContinuity continuity_;
  std::int64_t last_beat_ms_ = 0;
  std::optional<std::uint64_t> group_epoch_;  // highest seen; unset before the first beat
  bool end_run_owed_ = false;                 // end_run() failed (Redis down): retry first
  bool caught_up_ = false;                    // since the reader last became ready
  bool continuity_undecided_ = true;          // own gap (start, disconnect) not yet judged
  // Own gap with the keys kept for now (kResync): closed by witnessed + kKept, or by kLost.
  bool defer_own_gap_ = false;  // the service leaves the disconnect's gap to us
  bool own_gap_open_ = false;
  bool witnessed_ = false;               // the resync since the reconnect ended with the rows
  bool kept_ = false;                    // continuity decided kKept for the open gap
  bool restarted_ = false;               // the open gap is this process's start (restore)
  std::string blocked_ = "not started";  // what Service::set_blocked holds
  int blocked_state_ = -1;               // which of update_readiness()' reasons
  bool beat_failing_ = false;
  bool pending_logged_ = false;
  ReplicaCounters counters_;
};

}  // namespace rpsync::app
