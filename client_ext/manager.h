// SPDX-License-Identifier: MIT
// RpsyncManager: the rpsync client extension in gloox's idiom (a manager object that
// attaches to a client, plus a handler interface the application implements).
//
// Lifecycle of one account (spec: "Business Rules"):
//   first login   normal login; once the presence flood settled (no contact presence
//                 for settle_quiet, at most settle_max after initial presence) it sends
//                 <enable/> to the component found by disco (#items then #info).
//   online        keeps the presence cache from live presence; checkpoints after a quiet
//                 period following presence changes, every checkpoint_interval, and in
//                 logout() right before closing the stream.
//   reconnect     XEP-0198 resumed: nothing. Otherwise, with a stored key, it sends
//                 <sync/> together with the roster get (PresenceGate::session_started),
//                 holds initial presence until both the roster and the answer arrived,
//                 applies and verifies the delta, reports the changes, then sends
//                 initial presence (marked <synced/>
//                 when the server supports it, then verified by a checkpoint once the
//                 server reflected it; a mismatch re-sends presence unmarked so the
//                 server floods it). Any failure: drop
//                 key and cache, release presence (normal full login), enable later.
//   no component  the client behaves like a plain gloox client: nothing is sent besides
//                 the disco queries.
// The key and the snapshot are saved in a SessionStore after every verified answer (after
// a sync: right after the initial presence was released, in the same callback).
//
// Initial presence: while a sync is outstanding (Client::initial_presence_held()) the
// application must not send presence itself; ConnectionListener::onConnect() is called
// when the held presence goes out, i.e. after the sync was answered or failed.
//
// Threading and time: single-threaded like gloox. Every callback runs inside
// Client::recv(); the application must also call tick() regularly (e.g. after every
// recv() with a timeout of at most a second) so timers fire. Clocks are injectable.
#pragma once

#include <gloox/connectionlistener.h>
#include <gloox/discohandler.h>
#include <gloox/iqhandler.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../protocol/error.h"
#include "../protocol/sync.h"
#include "cache.h"
#include "checkpoint_schedule.h"
#include "client.h"
#include "discovery.h"
#include "extensions.h"
#include "session_timers.h"
#include "store.h"
#include "sync_plan.h"

namespace rpsync::client {

struct RpsyncOptions {
  // Component JID to use without discovery (empty: discover on the account's server).
  std::string component;
  std::chrono::milliseconds settle_quiet{1500};
  std::chrono::milliseconds settle_max{15000};
  std::chrono::milliseconds checkpoint_quiet{5000};
  std::chrono::milliseconds checkpoint_interval{std::chrono::minutes(10)};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds logout_timeout{3000};
  std::chrono::milliseconds retry_after_wait{30000};  // after a 'wait' error on enable
  // Mark the initial presence after a verified sync with <synced/> when the server
  // advertises urn:xmpp:rpsync:0#synced (it then skips the presence flood).
  bool synced_marker = true;
  // A discovery that found no component is repeated at a login this much later.
  std::chrono::milliseconds rediscover_after{std::chrono::hours(1)};
  std::function<std::chrono::steady_clock::time_point()> now;  // default: steady_clock
  std::function<std::int64_t()> unix_now;                      // default: system_clock
};

struct SyncAnswer;  // sync_plan.h

class RpsyncHandler {
 public:
  virtual ~RpsyncHandler() = default;
  // Reconnect answered by a delta, applied and verified. `changes` are relative to the
  // presence the application last saw (the cache); initial presence is sent right after.
  virtual void handleRpsyncSynced(const SyncStats& stats,
                                  const std::vector<PresenceChange>& changes) = 0;
  // This login gets the full presence flood: discard the presence view (the cache was
  // cleared); live presence follows through handleRpsyncPresence. Every non-resumed
  // login reports this or handleRpsyncSynced(); after a synced login whose marked
  // presence failed its verification, this follows handleRpsyncSynced().
  virtual void handleRpsyncFullResync(const FullResync& info) = 0;
  // A contact resource's presence changed (live presence).
  virtual void handleRpsyncPresence(const PresenceChange& change) = 0;
  // Optional notifications.
  virtual void handleRpsyncEnabled(bool digest_matched) { (void)digest_matched; }
  virtual void handleRpsyncResumed() {}
  virtual void handleRpsyncComponent(const std::string& jid) { (void)jid; }  // "" = none
};

class RpsyncManager : private gloox::IqHandler,
                      private gloox::DiscoHandler,
                      private gloox::ConnectionListener,
                      private PresenceGate,
                      private TagObserver {
 public:
  using Phase = SessionPhase;  // session_timers.h

  // Attaches to `client` (advertises the feature, registers extensions and listeners)
  // and loads the stored state of client.jid().bare() from `store`. `store` and
  // `handler` may be null and must outlive the manager; so must `client`.
  RpsyncManager(Client& client, SessionStore* store, RpsyncHandler* handler,
                RpsyncOptions options = {});
  ~RpsyncManager() override;
  RpsyncManager(const RpsyncManager&) = delete;
  RpsyncManager& operator=(const RpsyncManager&) = delete;

  // Fires due timers (settle, checkpoints, request timeouts, logout deadline).
  void tick();
  // Graceful logout: a final checkpoint (when enabled), then Client::disconnect() once
  // it is answered or logout_timeout passed. Without an enabled session it disconnects
  // at once.
  void logout();

  // Stops rpsync for this session: sends <disable/> when enabled, drops the key and the
  // stored state (the live cache stays); the client continues as a plain client until
  // the next login, which starts over with a full login and enable.
  void disable();

  Phase phase() const { return state_.phase; }
  const std::string& component() const { return discovery_.component(); }
  bool discovery_done() const { return discovery_.done(); }
  // The component's current key for this session (may not be verified yet).
  const std::optional<proto::SyncKey>& key() const { return state_.key; }
  const PresenceCache& cache() const { return cache_; }
  // rpsync requests sent since construction, by element name.
  std::size_t enables_sent() const { return enables_sent_; }
  std::size_t syncs_sent() const { return syncs_sent_; }
  std::size_t checkpoints_sent() const { return checkpoints_sent_; }
  // Contact presence stanzas and their bytes received since the last (re)login.
  std::size_t presence_stanzas() const { return state_.presence_stanzas; }
  std::size_t presence_bytes() const { return state_.presence_bytes; }
  // Whether the server announced the <synced/> support: as a stream feature of this
  // stream, or else urn:xmpp:rpsync:0#synced in disco#info (false until known).
  bool server_skips_flood() const { return server_synced_; }
  // Whether this session's initial presence carried the <synced/> marker.
  bool presence_marked() const { return state_.presence_marked; }
  // Whether the server confirmed the marked presence on its reflection (no checkpoint).
  bool presence_confirmed() const { return state_.confirmed_by_server; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Request : std::uint8_t { kNone, kEnable, kCheckpoint, kSync, kDisable };
  enum class ServerInfo : std::uint8_t { kUnknown, kPending, kDone };
  enum Context : int { kCtxRequest = 1, kCtxServerInfo = 4 };

  struct Pending {
    Request kind = Request::kNone;
    std::string id;
    TimePoint sent_at{};
    std::size_t answer_bytes = 0;
  };

  // Everything that belongs to one (not resumed) login: session_started() starts from a
  // fresh value. A disconnect ends the connection's request and waits but keeps the key
  // (a XEP-0198 resume continues the session).
  struct LoginState {
    Phase phase = Phase::kOffline;
    Pending pending;
    std::optional<proto::SyncKey> key;
    std::string session_stream;
    std::uint32_t lifetime = 0;
    bool roster_arrived = false;     // this session's roster result was handled
    bool release_on_roster = false;  // sync verified before the roster arrived
    bool release_waiting = false;    // sync verified; waiting for the server's disco#info
    bool presence_marked = false;
    bool await_reflection = false;     // marked presence sent; verify once it is reflected
    bool verifying_marker = false;     // the checkpoint in flight verifies the marked presence
    bool confirmed_by_server = false;  // the reflection of the marked presence confirmed it
    TimePoint presence_sent_at{};
    TimePoint last_presence_at{};
    TimePoint not_before{};
    TimePoint logout_deadline{};
    std::size_t presence_stanzas = 0;  // contact presence since the login, and its bytes
    std::size_t presence_bytes = 0;
  };

  // gloox::IqHandler
  bool handleIq(const gloox::IQ& iq) override;
  void handleIqID(const gloox::IQ& iq, int context) override;
  // gloox::DiscoHandler: the server's disco#info (the <synced/> feature); the component
  // walk answers ComponentDiscovery.
  void handleDiscoInfo(const gloox::JID& from, const gloox::Disco::Info& info,
                       int context) override;
  void handleDiscoItems(const gloox::JID& from, const gloox::Disco::Items& items,
                        int context) override;
  void handleDiscoError(const gloox::JID& from, const gloox::Error* error, int context) override;
  // gloox::ConnectionListener
  void onConnect() override {}
  void onDisconnect(gloox::ConnectionError e) override;
  bool onTLSConnect(const gloox::CertInfo& info) override;
  void onStreamEvent(gloox::StreamEvent event) override;
  // PresenceGate
  void session_started() override;
  bool hold_initial_presence() override;
  // TagObserver
  void observe_incoming(const gloox::Tag& tag) override;

  TimePoint now() const;
  void load_stored_state();
  void start_sync();
  std::string send_request(Request kind, std::unique_ptr<gloox::StanzaExtension> payload);
  void on_answer(const gloox::IQ& iq);
  void on_enable_answer(const gloox::IQ& iq, const Pending& p);
  void on_enable_failure(const gloox::IQ& iq);
  void on_checkpoint_answer(const gloox::IQ& iq, const Pending& p);
  void on_checkpoint_failure(const gloox::IQ& iq, bool logging_out);
  void on_sync_answer(const gloox::IQ& iq, const Pending& p);
  void on_synced(SyncAnswer& answer, const Pending& p);
  void fall_back_to_full_login(FullResync failure);
  void on_timeout();
  void full_resync(FullResync info);
  void discovery_finished(const std::string& component);
  void send_enable();
  void send_checkpoint();
  void persist();
  void learn_server_support();
  void request_server_info();
  void server_info_done(bool synced_feature);
  void release_after_sync();
  void release_now();
  void reflood();
  void after_answer(bool digest_matched);
  void drop_key();
  void drop_state();
  void verify_reflected_presence(const gloox::Tag& reflection);
  void on_contact_presence(const gloox::Tag& tag, const gloox::JID& jid, const std::string& type);
  bool is_contact(const std::string& bare) const;

  Client& client_;
  SessionStore* store_;
  RpsyncHandler* handler_;
  RpsyncOptions options_;
  std::string account_;

  ComponentDiscovery discovery_;
  PresenceCache cache_;
  std::optional<SavedSession> saved_;       // what the store holds
  std::optional<FullResync> load_failure_;  // reported at the next login
  CheckpointSchedule checkpoints_;
  LoginState state_;

  // Whether the server skips the presence flood for a marked initial presence; asked
  // once per process (again after a disconnect while the question was open).
  ServerInfo server_info_ = ServerInfo::kUnknown;
  bool server_synced_ = false;
  bool synced_from_features_ = false;  // server_synced_ came from the stream features
  TimePoint server_info_sent_{};
  SyncedMarkerExtension marker_;

  std::uint64_t request_seq_ = 0;  // ids of rpsync requests
  std::size_t enables_sent_ = 0;
  std::size_t syncs_sent_ = 0;
  std::size_t checkpoints_sent_ = 0;
};

}  // namespace rpsync::client
