// SPDX-License-Identifier: MIT
#include "client_ext/manager.h"

#include <gloox/disco.h>
#include <gloox/iq.h>
#include <gloox/jid.h>
#include <gloox/rosteritem.h>
#include <gloox/rostermanager.h>
#include <gloox/tag.h>

#include <memory>
#include <utility>

#include "client_ext/answer_error.h"
#include "client_ext/extensions.h"
#include "client_ext/sync_login.h"
#include "client_ext/tag_convert.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/presence.h"

namespace rpsync::client {

RpsyncManager::RpsyncManager(Client& client, SessionStore* store, RpsyncHandler* handler,
                             RpsyncOptions options)
    : client_(client),
      store_(store),
      handler_(handler),
      options_(std::move(options)),
      account_(client.jid().bare()),
      discovery_(
          client, options_.component, [this] { return now(); },
          [this](const std::string& component) { discovery_finished(component); }),
      checkpoints_(options_.checkpoint_quiet, options_.checkpoint_interval) {
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
  if (!options_.unix_now) {
    options_.unix_now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  client_.disco()->addFeature(std::string(ns::kRpsync));
  register_extensions(client_);
  client_.registerConnectionListener(this);
  client_.set_presence_gate(this);
  client_.set_tag_observer(this);
  load_stored_state();
}

RpsyncManager::~RpsyncManager() {
  client_.set_presence_gate(nullptr);
  client_.set_tag_observer(nullptr);
  client_.removeConnectionListener(this);
  client_.disco()->removeDiscoHandler(this);
  client_.removeIDHandler(this);
  client_.disco()->removeFeature(std::string(ns::kRpsync));
}

void RpsyncManager::load_stored_state() {
  if (store_ == nullptr) return;
  LoadResult loaded = store_->load(account_);
  if (!loaded.ok()) {
    load_failure_ =
        FullResync{FullResyncReason::kStoreError, std::nullopt, loaded.status().message()};
    if (loaded.status().code() == StatusCode::kCorrupt) (void)store_->erase(account_);
  } else if (*loaded) {
    saved_ = std::move(*loaded);
    cache_.reset(saved_->state);
    discovery_.adopt(saved_->component);
  }
}

RpsyncManager::TimePoint RpsyncManager::now() const {
  return options_.now();
}

// ---- login --------------------------------------------------------------------------

// Sent with the roster get, not after the roster arrived: the sync does not need the
// client's roster (the component reads it itself), so the two round trips overlap.
void RpsyncManager::session_started() {
  // A new (not resumed) session: the previous session's key is history now.
  state_ = {};
  checkpoints_.settle();
  const auto t = now();
  state_.last_presence_at = t;
  state_.presence_sent_at = t;
  state_.not_before = t;
  discovery_.expire_empty(t, options_.rediscover_after);
  learn_server_support();

  LoginStart start = plan_login(load_failure_, saved_, options_.unix_now(), discovery_.component());
  switch (start.kind) {
    case LoginStart::Kind::kSync:
      start_sync();
      return;
    case LoginStart::Kind::kFullResync:
      full_resync(std::move(start.failure));
      break;
    case LoginStart::Kind::kNoStoredState:
      // Whatever an earlier session in this process saw is stale: the flood rebuilds it.
      cache_.clear();
      if (handler_ != nullptr)
        handler_->handleRpsyncFullResync({FullResyncReason::kNoStoredState, {}, {}});
      break;
  }
  state_.phase = Phase::kSettling;
  discovery_.start_if_idle();
}

void RpsyncManager::start_sync() {
  proto::Sync sync{client_.stream_id(), saved_->key};
  send_request(Request::kSync, std::make_unique<SyncExtension>(std::move(sync)));
  ++syncs_sent_;
  state_.phase = Phase::kSyncing;
}

bool RpsyncManager::hold_initial_presence() {
  state_.roster_arrived = true;
  if (state_.phase == Phase::kSyncing) return true;  // the sync's answer (or timeout) releases
  if (std::exchange(state_.release_on_roster, false)) {
    release_after_sync();  // the delta arrived first and was verified
    return true;
  }
  return false;  // full login: gloox's initial presence goes out now
}

void RpsyncManager::full_resync(FullResync info) {
  drop_state();
  if (handler_ != nullptr) handler_->handleRpsyncFullResync(info);
}

void RpsyncManager::drop_key() {
  saved_.reset();
  state_.key.reset();
  if (store_ != nullptr) (void)store_->erase(account_);  // best effort, as the save
}

void RpsyncManager::drop_state() {
  drop_key();
  cache_.clear();
}

void RpsyncManager::after_answer(bool matched) {
  if (checkpoints_.answered(matched)) persist();
}

void RpsyncManager::discovery_finished(const std::string& component) {
  if (handler_ != nullptr) handler_->handleRpsyncComponent(component);
  if (component.empty() && state_.phase == Phase::kSettling) state_.phase = Phase::kPlain;
}

// ---- the <synced/> marker ----------------------------------------------------------

// The stream features may announce the <synced/> support (no disco#info needed); else
// disco#info once per process. A server that stopped announcing it is asked again.
void RpsyncManager::learn_server_support() {
  if (!options_.synced_marker) return;
  if (client_.server_announces_synced()) {
    server_info_ = ServerInfo::kDone;
    server_synced_ = true;
    synced_from_features_ = true;
    return;
  }
  if (std::exchange(synced_from_features_, false)) {
    server_info_ = ServerInfo::kUnknown;
    server_synced_ = false;
  }
  if (server_info_ == ServerInfo::kUnknown) request_server_info();
}

void RpsyncManager::request_server_info() {
  server_info_ = ServerInfo::kPending;
  server_info_sent_ = now();
  client_.disco()->getDiscoInfo(gloox::JID(client_.jid().server()), std::string(), this,
                                kCtxServerInfo);
}

void RpsyncManager::handleDiscoInfo(const gloox::JID& /*from*/, const gloox::Disco::Info& info,
                                    int context) {
  if (context == kCtxServerInfo)
    server_info_done(info.hasFeature(std::string(proto::kSyncedFeature)));
}

void RpsyncManager::handleDiscoItems(const gloox::JID& /*from*/,
                                     const gloox::Disco::Items& /*items*/, int /*context*/) {}

void RpsyncManager::handleDiscoError(const gloox::JID& /*from*/, const gloox::Error* /*error*/,
                                     int context) {
  if (context == kCtxServerInfo) server_info_done(false);
}

void RpsyncManager::server_info_done(bool synced_feature) {
  if (server_info_ != ServerInfo::kPending) return;
  server_info_ = ServerInfo::kDone;
  server_synced_ = synced_feature;
  if (state_.release_waiting) release_now();
}

void RpsyncManager::release_after_sync() {
  if (options_.synced_marker && server_info_ == ServerInfo::kPending) {
    state_.release_waiting = true;  // server_info_done() or tick() releases
    return;
  }
  release_now();
}

void RpsyncManager::release_now() {
  state_.release_waiting = false;
  state_.presence_marked = options_.synced_marker && server_synced_;
  state_.await_reflection = state_.presence_marked;
  state_.presence_sent_at = now();
  state_.last_presence_at = state_.presence_sent_at;
  client_.release_initial_presence(state_.presence_marked ? &marker_ : nullptr);
}

// The checkpoint after a marked presence disagreed: a contact changed between the sync
// answer and the initial presence. Spec: send unavailable, then initial presence again
// without the marker, and take the server's answers (the flood) as the state.
void RpsyncManager::reflood() {
  cache_.clear();
  if (handler_ != nullptr) {
    handler_->handleRpsyncFullResync(
        {FullResyncReason::kDigestMismatch, std::nullopt,
         "state after the marked initial presence differs; asking the server for all presence"});
  }
  gloox::Presence unavailable(gloox::Presence::Unavailable, gloox::JID());
  client_.send(unavailable);
  client_.setPresence();
  state_.presence_marked = false;
  state_.presence_sent_at = now();
  state_.last_presence_at = state_.presence_sent_at;
}

// ---- requests -----------------------------------------------------------------------

std::string RpsyncManager::send_request(Request kind,
                                        std::unique_ptr<gloox::StanzaExtension> payload) {
  // Short ids ("rs" and a counter; gloox's own are 48 characters): the id comes back in
  // every answer and becomes the key's 'last'. Unique within a stream, which is all a key
  // needs (its stream id is the server's), and never one of gloox's.
  const std::string id = "rs" + std::to_string(++request_seq_);
  gloox::IQ iq(gloox::IQ::Set, gloox::JID(discovery_.component()), id);
  iq.addExtension(payload.release());
  state_.pending = Pending{kind, id, now(), 0};
  client_.send(iq, this, kCtxRequest);
  return id;
}

void RpsyncManager::send_enable() {
  state_.session_stream = client_.stream_id();
  send_request(Request::kEnable,
               std::make_unique<EnableExtension>(proto::Enable{state_.session_stream}));
  ++enables_sent_;
  state_.phase = Phase::kEnabling;
}

void RpsyncManager::send_checkpoint() {
  if (!state_.key) return;
  send_request(Request::kCheckpoint, std::make_unique<CheckpointExtension>(
                                         proto::Checkpoint{state_.key->stream, state_.key->last}));
  ++checkpoints_sent_;
  checkpoints_.sent(now());
}

bool RpsyncManager::handleIq(const gloox::IQ& /*iq*/) {
  return false;
}

void RpsyncManager::handleIqID(const gloox::IQ& iq, int context) {
  if (context != kCtxRequest || state_.pending.kind == Request::kNone ||
      iq.id() != state_.pending.id) {
    return;
  }
  on_answer(iq);
}

void RpsyncManager::on_answer(const gloox::IQ& iq) {
  const Pending p = std::exchange(state_.pending, Pending{});
  switch (p.kind) {
    case Request::kEnable:
      on_enable_answer(iq, p);
      break;
    case Request::kCheckpoint:
      on_checkpoint_answer(iq, p);
      break;
    case Request::kSync:
      on_sync_answer(iq, p);
      break;
    case Request::kDisable:
    case Request::kNone:
      break;
  }
}

void RpsyncManager::on_enable_answer(const gloox::IQ& iq, const Pending& p) {
  const auto* ext = iq.subtype() == gloox::IQ::Result
                        ? iq.findExtension<EnabledExtension>(EnabledExtension::type_id())
                        : nullptr;
  const proto::Enabled* enabled = ext != nullptr ? ext->value() : nullptr;
  if (enabled == nullptr) {
    on_enable_failure(iq);
    return;
  }
  state_.key = proto::SyncKey{state_.session_stream, client_.resource(), p.id};
  state_.lifetime = enabled->lifetime;
  checkpoints_.key_received(now());
  state_.phase = Phase::kOnline;
  checkpoints_.reset_retries();
  const bool matched = cache_.adopt_if_matches(enabled->state);
  after_answer(matched);
  if (handler_ != nullptr) handler_->handleRpsyncEnabled(matched);
}

void RpsyncManager::on_enable_failure(const gloox::IQ& iq) {
  const proto::StanzaError e =
      iq.subtype() == gloox::IQ::Error ? error_of(iq) : proto::bad_request("no <enabled/>");
  if (component_missing(e)) discovery_.forget();
  if (e.type == proto::ErrorType::kWait) {
    state_.phase = Phase::kSettling;
    state_.not_before = now() + options_.retry_after_wait;
  } else {
    state_.phase = Phase::kPlain;
  }
}

void RpsyncManager::on_checkpoint_answer(const gloox::IQ& iq, const Pending& p) {
  const bool logging_out = state_.phase == Phase::kLoggingOut;
  const auto* ext = iq.subtype() == gloox::IQ::Result
                        ? iq.findExtension<CheckpointedExtension>(CheckpointedExtension::type_id())
                        : nullptr;
  const proto::Checkpointed* answer = ext != nullptr ? ext->value() : nullptr;
  const bool verifying = std::exchange(state_.verifying_marker, false);
  if (answer != nullptr && state_.key) {
    state_.key->last = p.id;
    const bool matched = cache_.adopt_if_matches(answer->state);
    if (!matched && verifying && !logging_out) {
      reflood();
      checkpoints_.settle();  // the flood's presence marks it dirty again; checkpoint after it
      return;
    }
    after_answer(matched);
  } else {
    on_checkpoint_failure(iq, logging_out);
  }
  if (logging_out) client_.disconnect();
}

void RpsyncManager::on_checkpoint_failure(const gloox::IQ& iq, bool logging_out) {
  if (iq.subtype() == gloox::IQ::Error && error_of(iq).type == proto::ErrorType::kWait) {
    // The component is busy; the key did not move. Try again later.
    checkpoints_.sent(now());
    return;
  }
  // The component lost track of this session: start over with a fresh enable.
  if (component_missing(error_of(iq))) discovery_.forget();
  drop_key();  // the live cache is still right; only the key is gone
  if (!logging_out) {
    state_.phase = discovery_.component().empty() ? Phase::kPlain : Phase::kSettling;
    state_.not_before = now();
  }
}

void RpsyncManager::on_sync_answer(const gloox::IQ& iq, const Pending& p) {
  SyncAnswer answer = read_sync_answer(iq, cache_, p.answer_bytes);
  if (!answer.failure) {
    on_synced(answer, p);
    return;
  }
  if (answer.component_missing) discovery_.forget();
  fall_back_to_full_login(std::move(*answer.failure));
}

void RpsyncManager::on_synced(SyncAnswer& answer, const Pending& p) {
  state_.session_stream = client_.stream_id();
  state_.key = proto::SyncKey{state_.session_stream, client_.resource(), p.id};
  state_.lifetime = answer.lifetime;
  checkpoints_.key_received(now());
  checkpoints_.settle();
  state_.phase = Phase::kOnline;
  answer.stats.round_trip =
      std::chrono::duration_cast<std::chrono::microseconds>(now() - p.sent_at);
  if (handler_ != nullptr) handler_->handleRpsyncSynced(answer.stats, answer.changes);
  if (state_.roster_arrived) {
    release_after_sync();
  } else {
    state_.release_on_roster = true;
  }
  // Saved after the presence left, in this same callback (nothing arrives in
  // between, so the snapshot is still the key's). Until then the old key and
  // snapshot stay on disk, and the component keeps that key until this session's
  // first checkpoint quotes the new one: a crash or a lost connection before the
  // save (or an answer that never arrived) leaves a key the next login syncs with.
  persist();
}

// The sync failed or timed out: a full login, with the presence held so far released.
void RpsyncManager::fall_back_to_full_login(FullResync failure) {
  full_resync(std::move(failure));
  state_.phase = Phase::kSettling;
  state_.presence_sent_at = now();
  state_.last_presence_at = state_.presence_sent_at;
  discovery_.start_if_idle();
  client_.release_initial_presence();
}

void RpsyncManager::on_timeout() {
  const Pending p = std::exchange(state_.pending, Pending{});
  switch (p.kind) {
    case Request::kSync:
      full_resync({FullResyncReason::kTimeout, std::nullopt, "no answer to <sync/>"});
      state_.phase = Phase::kSettling;
      state_.presence_sent_at = state_.last_presence_at = now();
      client_.release_initial_presence();
      break;
    case Request::kEnable:
      state_.phase = Phase::kPlain;
      break;
    case Request::kCheckpoint:
      if (state_.phase == Phase::kLoggingOut) client_.disconnect();
      break;
    case Request::kDisable:
    case Request::kNone:
      break;
  }
}

void RpsyncManager::persist() {
  if (!state_.key) return;
  SavedSession s = saved_session(discovery_.component(), *state_.key, state_.lifetime,
                                 options_.unix_now(), cache_.snapshot());
  if (store_ != nullptr) (void)store_->save(account_, s);  // a failed save: a full login later
  saved_ = std::move(s);
}

// ---- time ---------------------------------------------------------------------------

void RpsyncManager::tick() {
  const auto t = now();
  if (server_info_ == ServerInfo::kPending && t - server_info_sent_ >= options_.request_timeout) {
    server_info_done(false);
  }
  const TimerState timers{state_.phase,
                          state_.pending.kind != Request::kNone,
                          state_.pending.sent_at,
                          !discovery_.component().empty(),
                          state_.not_before,
                          state_.last_presence_at,
                          state_.presence_sent_at,
                          state_.logout_deadline};
  switch (due_action(timers, {options_.settle_quiet, options_.settle_max, options_.request_timeout},
                     checkpoints_, t)) {
    case TimerAction::kRequestTimeout:
      on_timeout();
      break;
    case TimerAction::kEnable:
      send_enable();
      break;
    case TimerAction::kCheckpoint:
      send_checkpoint();
      break;
    case TimerAction::kDisconnect:
      client_.disconnect();
      break;
    case TimerAction::kNone:
      break;
  }
}

void RpsyncManager::disable() {
  if (state_.key && !discovery_.component().empty() && state_.phase == Phase::kOnline) {
    send_request(Request::kDisable,
                 std::make_unique<DisableExtension>(proto::Disable{state_.key->stream}));
  }
  drop_key();
  state_.phase = Phase::kPlain;
}

void RpsyncManager::logout() {
  if (state_.phase == Phase::kOnline && state_.key && state_.pending.kind == Request::kNone) {
    state_.phase = Phase::kLoggingOut;
    state_.logout_deadline = now() + options_.logout_timeout;
    send_checkpoint();
    return;
  }
  if (state_.phase == Phase::kOnline && state_.pending.kind == Request::kCheckpoint) {
    // A checkpoint is already in flight: its answer is the last one.
    state_.phase = Phase::kLoggingOut;
    state_.logout_deadline = now() + options_.logout_timeout;
    return;
  }
  client_.disconnect();
}

// ---- connection ---------------------------------------------------------------------

void RpsyncManager::onDisconnect(gloox::ConnectionError /*e*/) {
  // An answer still in flight is lost; the component keeps the previous key for this
  // case (spec "Lost Results", a sync's as well), which is what the store holds.
  state_.pending = {};
  state_.phase = Phase::kOffline;
  state_.release_waiting = false;
  state_.release_on_roster = false;
  state_.roster_arrived = false;
  state_.await_reflection = false;
  state_.verifying_marker = false;
  if (server_info_ == ServerInfo::kPending) server_info_ = ServerInfo::kUnknown;
  client_.drop_initial_presence();
}

bool RpsyncManager::onTLSConnect(const gloox::CertInfo& /*info*/) {
  return true;
}

void RpsyncManager::onStreamEvent(gloox::StreamEvent event) {
  if (event == gloox::StreamEventSMResumed) {
    // The old session continues: its key and the component's view are still valid.
    if (state_.key) state_.phase = Phase::kOnline;
    if (handler_ != nullptr) handler_->handleRpsyncResumed();
  }
}

// ---- live presence ------------------------------------------------------------------

bool RpsyncManager::is_contact(const std::string& bare) const {
  if (bare == account_) return false;
  gloox::RosterManager* rm = client_.rosterManager();
  if (rm == nullptr) return true;
  gloox::RosterItem* item = rm->getRosterItem(gloox::JID(bare));
  if (item == nullptr) return false;
  switch (item->subscription()) {
    case gloox::S10nTo:
    case gloox::S10nToIn:
    case gloox::S10nBoth:
      return true;
    default:
      return false;
  }
}

void RpsyncManager::observe_incoming(const gloox::Tag& tag) {
  if (tag.name() == "iq" && state_.pending.kind != Request::kNone &&
      tag.findAttribute("id") == state_.pending.id) {
    state_.pending.answer_bytes = tag.xml().size();
    return;
  }
  if (tag.name() != "presence") return;
  const std::string& from = tag.findAttribute("from");
  const std::string& type = tag.findAttribute("type");
  if (from.empty() || (!type.empty() && type != "unavailable")) return;
  const gloox::JID jid(from);
  if (state_.await_reflection && type.empty() && jid.full() == client_.jid().full()) {
    verify_reflected_presence(tag);
    return;
  }
  if (!jid || jid.resource().empty() || !is_contact(jid.bare())) return;
  on_contact_presence(tag, jid, type);
}

// The server processed the marked initial presence. Its reflection may carry the
// server's confirmation (spec: "Confirmation by the Server"): nothing reached this user
// since the sync request, so the state is verified. Otherwise verify it now.
void RpsyncManager::verify_reflected_presence(const gloox::Tag& reflection) {
  state_.await_reflection = false;
  if (reflection.findChild(std::string(proto::kSyncedName), "xmlns", std::string(ns::kRpsync)) !=
      nullptr) {
    state_.confirmed_by_server = true;
    return;
  }
  if (state_.pending.kind == Request::kNone && state_.key && state_.phase == Phase::kOnline) {
    state_.verifying_marker = true;
    send_checkpoint();
  }
}

void RpsyncManager::on_contact_presence(const gloox::Tag& tag, const gloox::JID& jid,
                                        const std::string& type) {
  ++state_.presence_stanzas;
  state_.presence_bytes += tag.xml().size();
  state_.last_presence_at = now();
  std::optional<proto::PresenceFields> fields;
  if (type.empty()) fields = proto::fields_from_presence(to_element(tag));
  if (auto change = cache_.on_presence(jid.full(), fields)) {
    checkpoints_.presence_changed();
    if (handler_ != nullptr) handler_->handleRpsyncPresence(*change);
  }
}

}  // namespace rpsync::client
