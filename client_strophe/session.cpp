// SPDX-License-Identifier: MIT
// Session: construction, state file, login, requests and their answers.
#include "client_strophe/session.h"

#include <cstdio>
#include <utility>

#include "client_ext/roster_cache.h"
#include "client_ext/sqlite_database.h"
#include "client_ext/sqlite_roster_cache.h"
#include "client_ext/sqlite_session_store.h"
#include "client_ext/store.h"
#include "client_strophe/own_disco.h"
#include "client_strophe/session_id.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/session.h"
#include "protocol/state.h"

namespace rpsync::strophe {
namespace {

std::string domain_of(std::string_view bare) {
  const auto at = bare.find('@');
  return std::string(at == std::string_view::npos ? bare : bare.substr(at + 1));
}

}  // namespace

std::string_view to_string(Phase p) {
  static constexpr std::string_view kNames[] = {"offline", "syncing", "settling",   "enabling",
                                                "online",  "plain",   "logging-out"};
  return kNames[static_cast<std::size_t>(p)];
}

Session::Session(std::string account_jid, Options options, Transport& transport, Events& events)
    : account_(proto::bare_of(account_jid)),
      server_(domain_of(account_)),
      options_(std::move(options)),
      transport_(transport),
      events_(events),
      router_(transport),
      discovery_(router_, options_.component,
                 [this](const std::string& c) { discovery_finished(c); }),
      checkpoints_(options_.checkpoint_quiet, options_.checkpoint_interval),
      features_(own_features()) {
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
  if (!options_.unix_now) {
    options_.unix_now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  // Until open_state, the key, snapshot and versioned roster live as long as the handle.
  owned_sessions_ = std::make_unique<client::MemorySessionStore>();
  owned_rosters_ = std::make_unique<client::MemoryRosterCache>();
  use_stores(owned_sessions_.get(), owned_rosters_.get());
}

Session::~Session() = default;

void Session::use_stores(client::SessionStore* sessions, client::RosterCache* rosters) {
  store_ = sessions;
  roster_.set_cache(rosters, account_);
  load_stored_state();
}

Status Session::open_state(const std::string& path) {
  if (connected_ || state_opened_) {
    return Status::invalid_argument("the state file is opened once, while offline");
  }
  auto db = std::make_unique<client::SqliteDatabase>(path);
  std::optional<client::FullResync> corrupt;
  if (db->open_status().code() == StatusCode::kCorrupt) {
    // Not a database at all: keep it aside for inspection, start a clean file.
    corrupt = client::FullResync{client::FullResyncReason::kStoreError, std::nullopt,
                                 db->open_status().message()};
    db.reset();
    const std::string aside = path + ".corrupt";
    if (std::rename(path.c_str(), aside.c_str()) != 0)
      return corrupt->detail.empty()
                 ? Status::io_error("cannot move the corrupt state file aside")
                 : Status::io_error("cannot move the corrupt state file aside: " + corrupt->detail);
    db = std::make_unique<client::SqliteDatabase>(path);
  }
  if (!db->open_status().ok()) return db->open_status();
  db_ = std::move(db);
  // The file replaces the in-memory stores (and what they held) for the handle's lifetime.
  owned_sessions_ = std::make_unique<client::SqliteSessionStore>(*db_);
  owned_rosters_ = std::make_unique<client::SqliteRosterCache>(*db_);
  state_opened_ = true;
  use_stores(owned_sessions_.get(), owned_rosters_.get());
  if (corrupt) load_failure_ = std::move(corrupt);
  return {};
}

void Session::load_stored_state() {
  saved_.reset();
  load_failure_.reset();
  cache_.clear();
  if (store_ == nullptr) return;
  client::LoadResult loaded = store_->load(account_);
  if (!loaded.ok()) {
    load_failure_ = client::FullResync{client::FullResyncReason::kStoreError, std::nullopt,
                                       loaded.status().message()};
    if (loaded.status().code() == StatusCode::kCorrupt) (void)store_->erase(account_);
    log("state.corrupt " + loaded.status().message());
  } else if (*loaded) {
    saved_ = std::move(*loaded);
    cache_.reset(saved_->state);
    discovery_.adopt(saved_->component);
    log("state.loaded resources=" + std::to_string(saved_->state.size()));
  }
}

// ---- login --------------------------------------------------------------------------

void Session::on_login(const std::string& bound_jid, bool resumed) {
  connected_ = true;
  bound_jid_ = bound_jid;
  if (resumed) {
    // The old session continues: its key and the component's view are still valid.
    if (state_.key) state_.phase = Phase::kOnline;
    log("login.resumed");
    return;
  }
  start_login();
}

void Session::start_login() {
  state_ = {};
  state_.session_id = random_session_id();
  checkpoints_.settle();
  const auto t = now();
  state_.last_presence_at = state_.presence_sent_at = state_.not_before = t;
  discovery_.expire_empty(t, options_.rediscover_after);
  if (options_.synced_marker && server_info_ == ServerInfo::kUnknown) request_server_info();
  client::LoginStart start =
      client::plan_login(load_failure_, saved_, options_.unix_now(), discovery_.component());
  if (start.kind == client::LoginStart::Kind::kSync && !state_.session_id.empty()) {
    start_sync();
    return;
  }
  if (start.kind == client::LoginStart::Kind::kFullResync) {
    full_resync(start.failure);
  } else {
    cache_.clear();  // whatever an earlier session saw is stale: the flood rebuilds it
    events_.full_resync({client::FullResyncReason::kNoStoredState, std::nullopt, {}});
  }
  state_.phase = state_.session_id.empty() ? Phase::kPlain : Phase::kSettling;
  discovery_.start_if_idle(server_, options_.now);
}

void Session::start_sync() {
  proto::Sync sync{state_.session_id, saved_->key};
  send_request(Request::kSync, proto::to_xml(sync));
  ++counters_.syncs_sent;
  state_.phase = Phase::kSyncing;
  log("sync.sent component=" + discovery_.component());
}

void Session::full_resync(const client::FullResync& info) {
  drop_key();
  cache_.clear();
  log("login.full reason=" + std::string(client::to_string(info.reason)) + " " + info.detail);
  events_.full_resync(info);
}

void Session::drop_key() {
  saved_.reset();
  state_.key.reset();
  if (store_ != nullptr) (void)store_->erase(account_);  // best effort, as the save
}

void Session::discovery_finished(const std::string& component) {
  log("discovery.done component=" + component);
  events_.component(component);
  if (component.empty() && state_.phase == Phase::kSettling) state_.phase = Phase::kPlain;
}

void Session::request_server_info() {
  server_info_ = ServerInfo::kPending;
  server_info_sent_ = now();
  router_.send("get", server_, xml::Element("query", std::string(ns::kDiscoInfo)),
               [this](const xml::Element& iq, std::size_t) {
                 server_info_done(has_feature(iq, proto::kSyncedFeature));
               });
}

void Session::server_info_done(bool synced_feature) {
  if (server_info_ != ServerInfo::kPending) return;
  server_info_ = ServerInfo::kDone;
  server_synced_ = synced_feature;
  maybe_release();
}

// ---- requests -----------------------------------------------------------------------

void Session::send_request(Request kind, xml::Element payload) {
  const TimePoint t = now();
  const std::string id = router_.send("set", discovery_.component(), std::move(payload),
                                      [this, kind, t](const xml::Element& iq, std::size_t bytes) {
                                        if (state_.pending.kind != kind) return;
                                        const Pending p = std::exchange(state_.pending, Pending{});
                                        on_answer(p, iq, bytes);
                                      });
  state_.pending = Pending{kind, id, t};
}

void Session::on_answer(const Pending& p, const xml::Element& iq, std::size_t bytes) {
  switch (p.kind) {
    case Request::kEnable:
      on_enable_answer(p, iq);
      break;
    case Request::kCheckpoint:
      on_checkpoint_answer(p, iq);
      break;
    case Request::kSync:
      on_sync_answer(p, iq, bytes);
      break;
    case Request::kDisable:
    case Request::kNone:
      break;
  }
}

void Session::send_enable() {
  send_request(Request::kEnable, proto::to_xml(proto::Enable{state_.session_id}));
  ++counters_.enables_sent;
  state_.phase = Phase::kEnabling;
  log("enable.sent component=" + discovery_.component());
}

void Session::send_checkpoint() {
  if (!state_.key) return;
  send_request(Request::kCheckpoint,
               proto::to_xml(proto::Checkpoint{state_.key->stream, state_.key->last}));
  ++counters_.checkpoints_sent;
  checkpoints_.sent(now());
}

void Session::after_answer(bool matched) {
  if (checkpoints_.answered(matched)) persist();
}

void Session::persist() {
  if (!state_.key) return;
  client::SavedSession s = client::saved_session(
      discovery_.component(), *state_.key, state_.lifetime, options_.unix_now(), cache_.snapshot());
  if (store_ != nullptr) {
    const Status st = store_->save(account_, s);  // a failed save: a full login later
    if (!st.ok()) log("state.save_failed " + st.message());
  }
  saved_ = std::move(s);
}

}  // namespace rpsync::strophe
