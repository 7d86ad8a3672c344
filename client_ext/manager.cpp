// SPDX-License-Identifier: MIT
#include "client_ext/manager.h"

#include <gloox/disco.h>
#include <gloox/error.h>
#include <gloox/iq.h>
#include <gloox/jid.h>
#include <gloox/rosteritem.h>
#include <gloox/rostermanager.h>
#include <gloox/tag.h>

#include <memory>
#include <utility>

#include "client_ext/extensions.h"
#include "client_ext/tag_convert.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/presence.h"

namespace rpsync::client {

std::string_view to_string(FullResyncReason r) {
  switch (r) {
    case FullResyncReason::kNoStoredState:
      return "no-stored-state";
    case FullResyncReason::kStoreError:
      return "store-error";
    case FullResyncReason::kKeyExpired:
      return "key-expired";
    case FullResyncReason::kKeyRejected:
      return "key-rejected";
    case FullResyncReason::kDeltaDoesNotApply:
      return "delta-does-not-apply";
    case FullResyncReason::kDigestMismatch:
      return "digest-mismatch";
    case FullResyncReason::kMalformedAnswer:
      return "malformed-answer";
    case FullResyncReason::kTimeout:
      return "timeout";
    case FullResyncReason::kComponentUnavailable:
      return "component-unavailable";
  }
  return "?";
}

namespace {

constexpr std::size_t kMaxDiscoItems = 64;

proto::StanzaError error_of(const gloox::IQ& iq) {
  if (const gloox::Error* e = iq.error()) {
    std::unique_ptr<gloox::Tag> t(e->tag());
    if (t) {
      if (auto parsed = proto::parse_stanza_error(to_element(*t))) return *parsed;
    }
  }
  return proto::StanzaError{proto::ErrorType::kCancel, proto::Condition::kUndefinedCondition,
                            proto::AppCondition::kNone, "unparsable error"};
}

// Errors that say the component itself is not there (as opposed to rpsync answers).
bool component_missing(const proto::StanzaError& e) {
  if (e.app != proto::AppCondition::kNone) return false;
  switch (e.condition) {
    case proto::Condition::kServiceUnavailable:
    case proto::Condition::kRemoteServerNotFound:
    case proto::Condition::kRemoteServerTimeout:
    case proto::Condition::kRecipientUnavailable:
    case proto::Condition::kFeatureNotImplemented:
      return true;
    default:
      return false;
  }
}

std::string describe(const proto::StanzaError& e) {
  std::string s(proto::to_string(e.condition));
  if (e.app != proto::AppCondition::kNone) s += "/" + std::string(proto::to_string(e.app));
  if (!e.text.empty()) s += " (" + e.text + ")";
  return s;
}

}  // namespace

RpsyncManager::RpsyncManager(Client& client, SessionStore* store, RpsyncHandler* handler,
                             RpsyncOptions options)
    : client_(client),
      store_(store),
      handler_(handler),
      options_(std::move(options)),
      account_(client.jid().bare()),
      component_(options_.component) {
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
  if (!options_.unix_now) {
    options_.unix_now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!component_.empty()) discovery_ = Discovery::kDone;
  client_.disco()->addFeature(std::string(ns::kRpsync));
  register_extensions(client_);
  client_.registerConnectionListener(this);
  client_.set_presence_gate(this);
  client_.set_tag_observer(this);

  if (store_ != nullptr) {
    LoadResult loaded = store_->load(account_);
    if (!loaded.ok()) {
      load_failure_ =
          FullResync{FullResyncReason::kStoreError, std::nullopt, loaded.status().message()};
      if (loaded.status().code() == StatusCode::kCorrupt) (void)store_->erase(account_);
    } else if (*loaded) {
      saved_ = std::move(*loaded);
      cache_.reset(saved_->state);
      if (component_.empty()) component_ = saved_->component;
    }
  }
}

RpsyncManager::~RpsyncManager() {
  client_.set_presence_gate(nullptr);
  client_.set_tag_observer(nullptr);
  client_.removeConnectionListener(this);
  client_.disco()->removeDiscoHandler(this);
  client_.removeIDHandler(this);
  client_.disco()->removeFeature(std::string(ns::kRpsync));
}

std::chrono::steady_clock::time_point RpsyncManager::now() const {
  return options_.now();
}

// ---- login --------------------------------------------------------------------------

// Sent with the roster get, not after the roster arrived: the sync does not need the
// client's roster (the component reads it itself), so the two round trips overlap.
void RpsyncManager::session_started() {
  // A new (not resumed) session: the previous session's key is history now.
  roster_arrived_ = false;
  release_on_roster_ = false;
  pending_ = {};
  key_.reset();
  session_stream_.clear();
  dirty_ = false;
  presence_stanzas_ = 0;
  presence_bytes_ = 0;
  const auto t = now();
  last_presence_at_ = t;
  presence_sent_at_ = t;
  not_before_ = t;
  if (discovery_ == Discovery::kDone && component_.empty() &&
      t - discovered_at_ >= options_.rediscover_after) {
    discovery_ = Discovery::kIdle;
  }
  release_waiting_ = false;
  presence_marked_ = false;
  await_reflection_ = false;
  verifying_marker_ = false;
  if (options_.synced_marker && server_info_ == ServerInfo::kUnknown) request_server_info();

  if (load_failure_) {
    FullResync f = std::move(*load_failure_);
    load_failure_.reset();
    full_resync(std::move(f));
  } else if (!saved_) {
    // Whatever an earlier session in this process saw is stale: the flood rebuilds it.
    cache_.clear();
    if (handler_ != nullptr)
      handler_->handleRpsyncFullResync({FullResyncReason::kNoStoredState, {}, {}});
  } else if (saved_->expires_at <= options_.unix_now()) {
    full_resync({FullResyncReason::kKeyExpired, std::nullopt, {}});
  } else if (component_.empty()) {
    full_resync({FullResyncReason::kComponentUnavailable, std::nullopt, {}});
  } else {
    proto::Sync sync{client_.stream_id(), saved_->key};
    send_request(Request::kSync, std::make_unique<SyncExtension>(std::move(sync)));
    ++syncs_sent_;
    phase_ = Phase::kSyncing;
    return;
  }
  phase_ = Phase::kSettling;
  if (discovery_ == Discovery::kIdle) start_discovery();
}

bool RpsyncManager::hold_initial_presence() {
  roster_arrived_ = true;
  if (phase_ == Phase::kSyncing) return true;  // the sync's answer (or timeout) releases
  if (std::exchange(release_on_roster_, false)) {
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
  key_.reset();
  if (store_ != nullptr) (void)store_->erase(account_);  // best effort, as the save
}

void RpsyncManager::drop_state() {
  drop_key();
  cache_.clear();
}

void RpsyncManager::after_answer(bool matched) {
  dirty_ = false;
  if (matched) {
    retries_left_ = kMismatchRetries;
    persist();
  } else if (retries_left_ > 0) {
    // Presence still in flight to one side; ask again once things are quiet.
    --retries_left_;
    dirty_ = true;
  }
}

// ---- discovery ----------------------------------------------------------------------

void RpsyncManager::start_discovery() {
  discovery_ = Discovery::kRunning;
  disco_outstanding_ = 1;
  client_.disco()->getDiscoItems(gloox::JID(client_.jid().server()), std::string(), this,
                                 kCtxDiscoItems);
}

void RpsyncManager::handleDiscoItems(const gloox::JID& /*from*/, const gloox::Disco::Items& items,
                                     int context) {
  if (context != kCtxDiscoItems || discovery_ != Discovery::kRunning) return;
  std::size_t n = 0;
  for (const gloox::Disco::Item* item : items.items()) {
    if (item == nullptr || !item->jid() || n++ == kMaxDiscoItems) break;
    ++disco_outstanding_;
    client_.disco()->getDiscoInfo(item->jid(), std::string(), this, kCtxDiscoInfo);
  }
  finish_discovery_item();
}

void RpsyncManager::handleDiscoInfo(const gloox::JID& from, const gloox::Disco::Info& info,
                                    int context) {
  if (context == kCtxServerInfo) {
    server_info_done(info.hasFeature(std::string(proto::kSyncedFeature)));
    return;
  }
  if (context != kCtxDiscoInfo || discovery_ != Discovery::kRunning) return;
  if (component_.empty() && info.hasFeature(std::string(ns::kRpsync))) component_ = from.full();
  finish_discovery_item();
}

void RpsyncManager::handleDiscoError(const gloox::JID& /*from*/, const gloox::Error* /*error*/,
                                     int context) {
  if (context == kCtxServerInfo) {
    server_info_done(false);
    return;
  }
  if ((context != kCtxDiscoItems && context != kCtxDiscoInfo) ||
      discovery_ != Discovery::kRunning) {
    return;
  }
  finish_discovery_item();
}

void RpsyncManager::finish_discovery_item() {
  if (--disco_outstanding_ > 0) return;
  discovery_ = Discovery::kDone;
  discovered_at_ = now();
  if (handler_ != nullptr) handler_->handleRpsyncComponent(component_);
  if (component_.empty() && phase_ == Phase::kSettling) phase_ = Phase::kPlain;
}

// ---- the <synced/> marker ----------------------------------------------------------

void RpsyncManager::request_server_info() {
  server_info_ = ServerInfo::kPending;
  server_info_sent_ = now();
  client_.disco()->getDiscoInfo(gloox::JID(client_.jid().server()), std::string(), this,
                                kCtxServerInfo);
}

void RpsyncManager::server_info_done(bool synced_feature) {
  if (server_info_ != ServerInfo::kPending) return;
  server_info_ = ServerInfo::kDone;
  server_synced_ = synced_feature;
  if (release_waiting_) release_now();
}

void RpsyncManager::release_after_sync() {
  if (options_.synced_marker && server_info_ == ServerInfo::kPending) {
    release_waiting_ = true;  // server_info_done() or tick() releases
    return;
  }
  release_now();
}

void RpsyncManager::release_now() {
  release_waiting_ = false;
  presence_marked_ = options_.synced_marker && server_synced_;
  await_reflection_ = presence_marked_;
  presence_sent_at_ = now();
  last_presence_at_ = presence_sent_at_;
  client_.release_initial_presence(presence_marked_ ? &marker_ : nullptr);
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
  presence_marked_ = false;
  presence_sent_at_ = now();
  last_presence_at_ = presence_sent_at_;
}

// ---- requests -----------------------------------------------------------------------

std::string RpsyncManager::send_request(Request kind,
                                        std::unique_ptr<gloox::StanzaExtension> payload) {
  const std::string id = client_.getID();
  gloox::IQ iq(gloox::IQ::Set, gloox::JID(component_), id);
  iq.addExtension(payload.release());
  pending_ = Pending{kind, id, now(), 0};
  client_.send(iq, this, kCtxRequest);
  return id;
}

void RpsyncManager::send_enable() {
  session_stream_ = client_.stream_id();
  send_request(Request::kEnable, std::make_unique<EnableExtension>(proto::Enable{session_stream_}));
  ++enables_sent_;
  phase_ = Phase::kEnabling;
}

void RpsyncManager::send_checkpoint() {
  if (!key_) return;
  send_request(Request::kCheckpoint,
               std::make_unique<CheckpointExtension>(proto::Checkpoint{key_->stream, key_->last}));
  ++checkpoints_sent_;
  last_checkpoint_at_ = now();
}

bool RpsyncManager::handleIq(const gloox::IQ& /*iq*/) {
  return false;
}

void RpsyncManager::handleIqID(const gloox::IQ& iq, int context) {
  if (context != kCtxRequest || pending_.kind == Request::kNone || iq.id() != pending_.id) return;
  on_answer(iq);
}

void RpsyncManager::on_answer(const gloox::IQ& iq) {
  const Pending p = std::exchange(pending_, Pending{});
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
  if (iq.subtype() == gloox::IQ::Result) {
    const auto* ext = iq.findExtension<EnabledExtension>(EnabledExtension::type_id());
    const proto::Enabled* enabled = ext != nullptr ? ext->value() : nullptr;
    if (enabled != nullptr) {
      key_ = proto::SyncKey{session_stream_, client_.resource(), p.id};
      lifetime_ = enabled->lifetime;
      last_checkpoint_at_ = now();
      phase_ = Phase::kOnline;
      retries_left_ = kMismatchRetries;
      const bool matched = cache_.adopt_if_matches(enabled->state);
      after_answer(matched);
      if (handler_ != nullptr) handler_->handleRpsyncEnabled(matched);
      return;
    }
  }
  const proto::StanzaError e =
      iq.subtype() == gloox::IQ::Error ? error_of(iq) : proto::bad_request("no <enabled/>");
  if (component_missing(e)) {
    component_.clear();
    discovery_ = Discovery::kIdle;
  }
  if (e.type == proto::ErrorType::kWait) {
    phase_ = Phase::kSettling;
    not_before_ = now() + options_.retry_after_wait;
  } else {
    phase_ = Phase::kPlain;
  }
}

void RpsyncManager::on_checkpoint_answer(const gloox::IQ& iq, const Pending& p) {
  const bool logging_out = phase_ == Phase::kLoggingOut;
  const auto* ext = iq.subtype() == gloox::IQ::Result
                        ? iq.findExtension<CheckpointedExtension>(CheckpointedExtension::type_id())
                        : nullptr;
  const proto::Checkpointed* answer = ext != nullptr ? ext->value() : nullptr;
  const bool verifying = std::exchange(verifying_marker_, false);
  if (answer != nullptr && key_) {
    key_->last = p.id;
    const bool matched = cache_.adopt_if_matches(answer->state);
    if (!matched && verifying && !logging_out) {
      reflood();
      dirty_ = false;  // the flood's presence marks it dirty again; checkpoint after it
      return;
    }
    after_answer(matched);
  } else if (iq.subtype() == gloox::IQ::Error && error_of(iq).type == proto::ErrorType::kWait) {
    // The component is busy; the key did not move. Try again later.
    last_checkpoint_at_ = now();
  } else {
    // The component lost track of this session: start over with a fresh enable.
    const proto::StanzaError e = error_of(iq);
    if (component_missing(e)) {
      component_.clear();
      discovery_ = Discovery::kIdle;
    }
    drop_key();  // the live cache is still right; only the key is gone
    if (!logging_out) {
      phase_ = component_.empty() ? Phase::kPlain : Phase::kSettling;
      not_before_ = now();
    }
  }
  if (logging_out) client_.disconnect();
}

void RpsyncManager::on_sync_answer(const gloox::IQ& iq, const Pending& p) {
  FullResync failure;
  if (iq.subtype() == gloox::IQ::Result) {
    const auto* ext = iq.findExtension<DeltaExtension>(DeltaExtension::type_id());
    const proto::Delta* delta = ext != nullptr ? ext->value() : nullptr;
    if (delta == nullptr) {
      failure = {FullResyncReason::kMalformedAnswer, std::nullopt,
                 ext != nullptr && ext->error() ? ext->error()->text : "no <delta/>"};
    } else {
      const proto::Delta& d = *delta;
      std::vector<PresenceChange> changes;
      const DeltaFailure f = cache_.apply_delta(d, &changes);
      if (f == DeltaFailure::kNone) {
        session_stream_ = client_.stream_id();
        key_ = proto::SyncKey{session_stream_, client_.resource(), p.id};
        lifetime_ = d.lifetime;
        last_checkpoint_at_ = now();
        dirty_ = false;
        phase_ = Phase::kOnline;
        SyncStats stats;
        stats.items = d.items();
        stats.bytes = p.answer_bytes;
        stats.round_trip = std::chrono::duration_cast<std::chrono::microseconds>(now() - p.sent_at);
        stats.count = d.state.count();
        if (handler_ != nullptr) handler_->handleRpsyncSynced(stats, changes);
        if (roster_arrived_) {
          release_after_sync();
        } else {
          release_on_roster_ = true;
        }
        // Saved after the presence left, in this same callback (nothing arrives in
        // between, so the snapshot is still the key's). A crash before the save leaves
        // the old key and snapshot on disk: the component retired that key with this
        // sync, so the next login gets unknown-key and a full login. Consistent either
        // way; saving first would only move the same window before the presence.
        persist();
        return;
      }
      failure = {f == DeltaFailure::kDigestMismatch ? FullResyncReason::kDigestMismatch
                                                    : FullResyncReason::kDeltaDoesNotApply,
                 std::nullopt,
                 {}};
    }
  } else {
    const proto::StanzaError e = error_of(iq);
    failure = {FullResyncReason::kKeyRejected, e, describe(e)};
    if (component_missing(e)) {
      component_.clear();
      discovery_ = Discovery::kIdle;
    }
  }
  full_resync(std::move(failure));
  phase_ = Phase::kSettling;
  presence_sent_at_ = now();
  last_presence_at_ = presence_sent_at_;
  if (discovery_ == Discovery::kIdle) start_discovery();
  client_.release_initial_presence();
}

void RpsyncManager::on_timeout() {
  const Pending p = std::exchange(pending_, Pending{});
  switch (p.kind) {
    case Request::kSync:
      full_resync({FullResyncReason::kTimeout, std::nullopt, "no answer to <sync/>"});
      phase_ = Phase::kSettling;
      presence_sent_at_ = last_presence_at_ = now();
      client_.release_initial_presence();
      break;
    case Request::kEnable:
      phase_ = Phase::kPlain;
      break;
    case Request::kCheckpoint:
      if (phase_ == Phase::kLoggingOut) client_.disconnect();
      break;
    case Request::kDisable:
    case Request::kNone:
      break;
  }
}

void RpsyncManager::persist() {
  if (!key_) return;
  SavedSession s;
  s.component = component_;
  s.key = *key_;
  s.expires_at = options_.unix_now() + static_cast<std::int64_t>(lifetime_);
  s.state = cache_.snapshot();
  if (store_ != nullptr) (void)store_->save(account_, s);  // a failed save: a full login later
  saved_ = std::move(s);
}

// ---- time ---------------------------------------------------------------------------

void RpsyncManager::tick() {
  const auto t = now();
  if (server_info_ == ServerInfo::kPending && t - server_info_sent_ >= options_.request_timeout) {
    server_info_done(false);
  }
  if (pending_.kind != Request::kNone) {
    if (t - pending_.sent_at >= options_.request_timeout) on_timeout();
    return;
  }
  switch (phase_) {
    case Phase::kSettling: {
      if (component_.empty() || t < not_before_) break;
      const bool quiet = t - last_presence_at_ >= options_.settle_quiet;
      const bool waited = t - presence_sent_at_ >= options_.settle_max;
      if (quiet || waited) send_enable();
      break;
    }
    case Phase::kOnline: {
      const bool quiet = t - last_presence_at_ >= options_.checkpoint_quiet &&
                         t - last_checkpoint_at_ >= options_.checkpoint_quiet;
      if ((dirty_ && quiet) || t - last_checkpoint_at_ >= options_.checkpoint_interval) {
        send_checkpoint();
      }
      break;
    }
    case Phase::kLoggingOut:
      if (t >= logout_deadline_) client_.disconnect();
      break;
    default:
      break;
  }
}

void RpsyncManager::disable() {
  if (key_ && !component_.empty() && phase_ == Phase::kOnline) {
    send_request(Request::kDisable,
                 std::make_unique<DisableExtension>(proto::Disable{key_->stream}));
  }
  drop_key();
  phase_ = Phase::kPlain;
}

void RpsyncManager::logout() {
  if (phase_ == Phase::kOnline && key_ && pending_.kind == Request::kNone) {
    phase_ = Phase::kLoggingOut;
    logout_deadline_ = now() + options_.logout_timeout;
    send_checkpoint();
    return;
  }
  if (phase_ == Phase::kOnline && pending_.kind == Request::kCheckpoint) {
    // A checkpoint is already in flight: its answer is the last one.
    phase_ = Phase::kLoggingOut;
    logout_deadline_ = now() + options_.logout_timeout;
    return;
  }
  client_.disconnect();
}

// ---- connection ---------------------------------------------------------------------

void RpsyncManager::onDisconnect(gloox::ConnectionError /*e*/) {
  // An answer still in flight is lost; the component keeps the previous key for this
  // case (spec: "Key"), which is what the store holds.
  pending_ = {};
  phase_ = Phase::kOffline;
  release_waiting_ = false;
  release_on_roster_ = false;
  roster_arrived_ = false;
  await_reflection_ = false;
  verifying_marker_ = false;
  if (server_info_ == ServerInfo::kPending) server_info_ = ServerInfo::kUnknown;
  client_.drop_initial_presence();
}

bool RpsyncManager::onTLSConnect(const gloox::CertInfo& /*info*/) {
  return true;
}

void RpsyncManager::onStreamEvent(gloox::StreamEvent event) {
  if (event == gloox::StreamEventSMResumed) {
    // The old session continues: its key and the component's view are still valid.
    if (key_) phase_ = Phase::kOnline;
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
  if (tag.name() == "iq" && pending_.kind != Request::kNone &&
      tag.findAttribute("id") == pending_.id) {
    pending_.answer_bytes = tag.xml().size();
    return;
  }
  if (tag.name() != "presence") return;
  const std::string& from = tag.findAttribute("from");
  const std::string& type = tag.findAttribute("type");
  if (from.empty() || (!type.empty() && type != "unavailable")) return;
  const gloox::JID jid(from);
  if (await_reflection_ && type.empty() && jid.full() == client_.jid().full()) {
    // The server processed the marked initial presence: verify the state now.
    await_reflection_ = false;
    if (pending_.kind == Request::kNone && key_ && phase_ == Phase::kOnline) {
      verifying_marker_ = true;
      send_checkpoint();
    }
    return;
  }
  if (!jid || jid.resource().empty() || !is_contact(jid.bare())) return;

  ++presence_stanzas_;
  presence_bytes_ += tag.xml().size();
  last_presence_at_ = now();
  std::optional<proto::PresenceFields> fields;
  if (type.empty()) fields = proto::fields_from_presence(to_element(tag));
  if (auto change = cache_.on_presence(jid.full(), fields)) {
    dirty_ = true;
    retries_left_ = kMismatchRetries;
    if (handler_ != nullptr) handler_->handleRpsyncPresence(*change);
  }
}

}  // namespace rpsync::client
