// SPDX-License-Identifier: MIT
// Session: the rpsync client lifecycle for libstrophe, in C++ over xml::Element and a
// Transport, with no libstrophe in it (api.cpp and stanza_bridge.h connect it to an
// xmpp_conn_t; the unit tests drive it directly). Same behaviour as the gloox binding's
// RpsyncManager (client_ext/manager.h), whose decisions it shares (client_ext's
// sync_plan.h, cache.h, checkpoint_schedule.h, stores):
//   first login   full login; once the presence flood settled it sends <enable/> to the
//                 component found by discovery.
//   online        presence cache follows live presence; checkpoints when quiet after
//                 changes, every checkpoint_interval, and at logout().
//   reconnect     with a usable stored key, <sync/> goes out at on_login(); the initial
//                 presence the application hands over is held until the answer (and the
//                 roster, when requested) arrived; the delta is applied and verified,
//                 then the presence is sent (marked <synced/> when the server has the
//                 gate; verified by a checkpoint once reflected unless the reflection
//                 carries the server's confirmation; a mismatch re-sends it
//                 unmarked so the server floods). Any failure: drop key and cache, send
//                 the presence (a full login), enable later.
// The identifier in 'stream' is a random 128-bit session id per login (session_id.h).
// Single-threaded; tick() fires timers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_ext/cache.h"
#include "client_ext/checkpoint_schedule.h"
#include "client_ext/roster_cache.h"
#include "client_ext/session_timers.h"
#include "client_ext/store.h"
#include "client_ext/sync_plan.h"
#include "client_strophe/discovery.h"
#include "client_strophe/iq_router.h"
#include "client_strophe/roster_helper.h"
#include "client_strophe/transport.h"
#include "protocol/status.h"
#include "protocol/sync.h"

namespace rpsync::client {
class SqliteDatabase;
}

namespace rpsync::strophe {

using Ms = std::chrono::milliseconds;

struct Options {
  std::string component;  // empty: discover
  Ms settle_quiet{1500};
  Ms settle_max{15000};
  Ms checkpoint_quiet{5000};
  Ms checkpoint_interval{std::chrono::minutes(10)};
  Ms request_timeout{10000};
  Ms logout_timeout{3000};
  Ms retry_after_wait{30000};
  Ms rediscover_after{std::chrono::hours(1)};
  bool synced_marker = true;
  bool answer_disco = true;
  bool roster_ver = true;
  std::string caps_node;  // non-empty: the initial presence gets a <c/>
  std::function<std::chrono::steady_clock::time_point()> now;  // default: steady_clock
  std::function<std::int64_t()> unix_now;                      // default: system_clock
};

// What the application hears (the C callbacks behind api.cpp). Defaults do nothing.
class Events {
 public:
  virtual ~Events() = default;
  virtual void synced(const client::SyncStats&, const std::vector<client::PresenceChange>&) {}
  virtual void full_resync(const client::FullResync&) {}
  virtual void presence(const client::PresenceChange&) {}
  virtual void presence_sent(bool /*marked*/) {}
  virtual void enabled(bool /*digest_matched*/) {}
  virtual void component(const std::string&) {}
  virtual void roster(const client::CachedRoster&, bool /*from_cache*/) {}
  virtual void log(const std::string&) {}
};

using Phase = client::SessionPhase;

struct Counters {
  std::size_t enables_sent = 0;
  std::size_t syncs_sent = 0;
  std::size_t checkpoints_sent = 0;
};

class Session {
 public:
  // `account_jid`: the JID the connection logs in with (its bare part is the account).
  Session(std::string account_jid, Options options, Transport& transport, Events& events);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Until then (or without it) the key, snapshot and versioned roster are kept in memory
  // for the handle's lifetime.
  // Opens the SQLite state file and loads the account's key, snapshot and roster. Only
  // while offline, once; it replaces the in-memory stores and drops what they held. A corrupt
  // record is erased and reported at the next login; an unopenable file is an error.
  Status open_state(const std::string& path);
  // Stores the caller owns instead of the in-memory ones (tests; null = none). Only while
  // offline, before open_state.
  void use_stores(client::SessionStore* sessions, client::RosterCache* rosters);

  // The stream is up. `bound_jid`: the full JID the server bound; `resumed`: XEP-0198
  // resumed the previous session (nothing to do).
  void on_login(const std::string& bound_jid, bool resumed);
  void on_disconnect();
  // Every incoming top-level stanza; `bytes`: its serialised size.
  void on_stanza(const xml::Element& stanza, std::size_t bytes);
  void tick();

  // The application's API (false: wrong state or stanza).
  bool send_initial_presence(const xml::Element& presence);
  bool roster_request();
  bool logout();
  bool disable();

  Phase phase() const { return state_.phase; }
  bool connected() const { return connected_; }
  const std::string& component() const { return discovery_.component(); }
  const std::string& session_id() const { return state_.session_id; }
  const client::PresenceCache& cache() const { return cache_; }
  const Counters& counters() const { return counters_; }
  std::size_t presence_stanzas() const { return state_.presence_stanzas; }
  std::size_t presence_bytes() const { return state_.presence_bytes; }
  bool presence_marked() const { return state_.presence_marked; }
  // The server confirmed the marked presence on its reflection (no checkpoint followed).
  bool presence_confirmed() const { return state_.confirmed_by_server; }
  bool server_skips_flood() const { return server_synced_; }
  const RosterHelper& roster() const { return roster_; }
  const std::optional<proto::SyncKey>& key() const { return state_.key; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Request : std::uint8_t { kNone, kEnable, kCheckpoint, kSync, kDisable };
  enum class ServerInfo : std::uint8_t { kUnknown, kPending, kDone };

  struct Pending {
    Request kind = Request::kNone;
    std::string id;
    TimePoint sent_at{};
  };

  // Everything that belongs to one (not resumed) login.
  struct LoginState {
    Phase phase = Phase::kOffline;
    Pending pending;
    std::optional<proto::SyncKey> key;
    std::string session_id;
    std::uint32_t lifetime = 0;
    std::optional<xml::Element> presence;  // the application's initial presence
    bool presence_out = false;             // it was sent
    bool roster_wanted = false;            // roster_request() in this login
    bool roster_answered = false;          // its answer (result or error) arrived
    bool synced = false;                   // a verified sync in this login
    bool presence_marked = false;
    bool await_reflection = false;
    bool verifying_marker = false;
    bool confirmed_by_server = false;
    TimePoint presence_sent_at{};
    TimePoint last_presence_at{};
    TimePoint not_before{};
    TimePoint logout_deadline{};
    std::size_t presence_stanzas = 0;
    std::size_t presence_bytes = 0;
  };

  TimePoint now() const { return options_.now(); }
  void load_stored_state();
  void start_login();
  void start_sync();
  void send_request(Request kind, xml::Element payload);
  void on_answer(const Pending& p, const xml::Element& iq, std::size_t bytes);
  void on_enable_answer(const Pending& p, const xml::Element& iq);
  void on_checkpoint_answer(const Pending& p, const xml::Element& iq);
  void on_checkpoint_failure(const xml::Element& iq, bool logging_out);
  void on_sync_answer(const Pending& p, const xml::Element& iq, std::size_t bytes);
  void on_synced(client::SyncAnswer& answer, const Pending& p);
  void fall_back_to_full_login(client::FullResync failure);
  void on_timeout();
  void full_resync(const client::FullResync& info);
  void send_enable();
  void send_checkpoint();
  void persist();
  void drop_key();
  void after_answer(bool matched);
  void discovery_finished(const std::string& component);
  void request_server_info();
  void server_info_done(bool synced_feature);
  // Initial presence (session_presence.cpp).
  void maybe_release();
  void release(bool marked);
  void reflood();
  void on_presence(const xml::Element& p, std::size_t bytes);
  void verify_reflected_presence(const xml::Element& reflection);
  bool is_contact(std::string_view bare) const;
  void on_iq(const xml::Element& iq, std::size_t bytes);
  void log(const std::string& line) { events_.log(line); }

  std::string account_;  // bare JID
  std::string server_;   // its domain
  std::string bound_jid_;
  Options options_;
  Transport& transport_;
  Events& events_;
  IqRouter router_;
  Discovery discovery_;
  RosterHelper roster_;
  client::PresenceCache cache_;
  client::CheckpointSchedule checkpoints_;
  std::unique_ptr<client::SqliteDatabase> db_;
  std::unique_ptr<client::SessionStore> owned_sessions_;
  std::unique_ptr<client::RosterCache> owned_rosters_;
  client::SessionStore* store_ = nullptr;
  std::optional<client::SavedSession> saved_;
  std::optional<client::FullResync> load_failure_;
  LoginState state_;
  bool connected_ = false;
  bool state_opened_ = false;
  ServerInfo server_info_ = ServerInfo::kUnknown;
  bool server_synced_ = false;
  TimePoint server_info_sent_{};
  std::vector<std::string> features_;
  Counters counters_;
};

std::string_view to_string(Phase p);

}  // namespace rpsync::strophe
