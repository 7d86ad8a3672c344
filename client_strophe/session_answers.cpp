// SPDX-License-Identifier: MIT
// Session: the component's answers, timers, logout, disable and disconnect.
#include <utility>

#include "client_strophe/session.h"
#include "protocol/delta.h"
#include "protocol/ns.h"
#include "protocol/session.h"

namespace rpsync::strophe {
namespace {

std::string resource_of(std::string_view full) {
  const auto slash = full.find('/');
  return slash == std::string_view::npos ? std::string() : std::string(full.substr(slash + 1));
}

proto::StanzaError error_of(const xml::Element& iq) {
  if (const xml::Element* e = iq.child("error")) {
    if (auto parsed = proto::parse_stanza_error(*e)) return *parsed;
  }
  return {proto::ErrorType::kCancel, proto::Condition::kUndefinedCondition,
          proto::AppCondition::kNone, "unparsable error"};
}

const xml::Element* rpsync_child(const xml::Element& iq, std::string_view name) {
  return is_result(iq) ? iq.child(name, ns::kRpsync) : nullptr;
}

}  // namespace

void Session::on_enable_answer(const Pending& p, const xml::Element& iq) {
  const xml::Element* e = rpsync_child(iq, "enabled");
  auto enabled = e != nullptr ? std::optional(proto::parse_enabled(*e)) : std::nullopt;
  if (!enabled || !enabled->ok()) {
    const proto::StanzaError err =
        is_result(iq) ? proto::bad_request("no <enabled/>") : error_of(iq);
    if (client::component_missing(err)) discovery_.forget();
    log("enable.failed " + client::describe(err));
    if (err.type == proto::ErrorType::kWait) {
      state_.phase = Phase::kSettling;
      state_.not_before = now() + options_.retry_after_wait;
    } else {
      state_.phase = Phase::kPlain;
    }
    return;
  }
  state_.key = proto::SyncKey{state_.session_id, resource_of(bound_jid_), p.id};
  state_.lifetime = (**enabled).lifetime;
  checkpoints_.key_received(now());
  state_.phase = Phase::kOnline;
  checkpoints_.reset_retries();
  const bool matched = cache_.adopt_if_matches((**enabled).state);
  after_answer(matched);
  log(std::string("enable.done digest_matched=") + (matched ? "1" : "0"));
  events_.enabled(matched);
}

void Session::on_checkpoint_answer(const Pending& p, const xml::Element& iq) {
  const bool logging_out = state_.phase == Phase::kLoggingOut;
  const xml::Element* e = rpsync_child(iq, "checkpointed");
  auto answer = e != nullptr ? std::optional(proto::parse_checkpointed(*e)) : std::nullopt;
  const bool verifying = std::exchange(state_.verifying_marker, false);
  if (answer && answer->ok() && state_.key) {
    state_.key->last = p.id;
    const bool matched = cache_.adopt_if_matches((**answer).state);
    if (!matched && verifying && !logging_out) {
      reflood();
      checkpoints_.settle();  // the flood's presence makes it dirty again
      return;
    }
    after_answer(matched);
  } else {
    on_checkpoint_failure(iq, logging_out);
  }
  if (logging_out) transport_.disconnect();
}

void Session::on_checkpoint_failure(const xml::Element& iq, bool logging_out) {
  const proto::StanzaError err =
      is_result(iq) ? proto::bad_request("no <checkpointed/>") : error_of(iq);
  log("checkpoint.failed " + client::describe(err));
  if (err.type == proto::ErrorType::kWait) {
    checkpoints_.sent(now());  // busy: the key did not move, try again later
    return;
  }
  if (client::component_missing(err)) discovery_.forget();
  drop_key();  // the live cache is still right; only the key is gone
  if (!logging_out) {
    state_.phase = discovery_.component().empty() ? Phase::kPlain : Phase::kSettling;
    state_.not_before = now();
  }
}

void Session::on_sync_answer(const Pending& p, const xml::Element& iq, std::size_t bytes) {
  client::SyncAnswer answer;
  if (is_result(iq)) {
    const xml::Element* d = iq.child("delta", ns::kRpsync);
    auto parsed = d != nullptr ? std::optional(proto::parse_delta(*d)) : std::nullopt;
    const bool ok = parsed && parsed->ok();
    const std::string why = !parsed ? "no <delta/>" : ok ? "" : parsed->error().text;
    answer = client::read_delta(ok ? &**parsed : nullptr, why, cache_, bytes);
  } else {
    answer = client::read_sync_error(error_of(iq));
  }
  if (!answer.failure) {
    on_synced(answer, p);
    return;
  }
  if (answer.component_missing) discovery_.forget();
  fall_back_to_full_login(std::move(*answer.failure));
}

void Session::on_synced(client::SyncAnswer& answer, const Pending& p) {
  state_.key = proto::SyncKey{state_.session_id, resource_of(bound_jid_), p.id};
  state_.lifetime = answer.lifetime;
  state_.synced = true;
  checkpoints_.key_received(now());
  checkpoints_.settle();
  state_.phase = Phase::kOnline;
  answer.stats.round_trip =
      std::chrono::duration_cast<std::chrono::microseconds>(now() - p.sent_at);
  log("sync.done items=" + std::to_string(answer.stats.items) +
      " bytes=" + std::to_string(answer.stats.bytes));
  events_.synced(answer.stats, answer.changes);
  // Saved in this same call, before any later presence can change the snapshot. Until
  // then the stored key is the old one, which the component keeps until this session's
  // first checkpoint quotes the new key: a crash in between syncs with it next time.
  persist();
  maybe_release();
}

// The sync failed or timed out: a full login, the held presence goes out.
void Session::fall_back_to_full_login(client::FullResync failure) {
  full_resync(failure);
  state_.phase = Phase::kSettling;
  state_.presence_sent_at = state_.last_presence_at = now();
  discovery_.start_if_idle(server_, options_.now);
  maybe_release();
}

void Session::on_timeout() {
  const Pending p = std::exchange(state_.pending, Pending{});
  switch (p.kind) {
    case Request::kSync:
      fall_back_to_full_login(
          {client::FullResyncReason::kTimeout, std::nullopt, "no answer to <sync/>"});
      break;
    case Request::kEnable:
      state_.phase = Phase::kPlain;
      break;
    case Request::kCheckpoint:
      if (state_.phase == Phase::kLoggingOut) transport_.disconnect();
      break;
    case Request::kDisable:
    case Request::kNone:
      break;
  }
}

void Session::tick() {
  if (!connected_) return;
  const auto t = now();
  if (server_info_ == ServerInfo::kPending && t - server_info_sent_ >= options_.request_timeout) {
    server_info_done(false);
  }
  const client::TimerState timers{
      state_.phase,
      state_.pending.kind != Request::kNone,
      state_.pending.sent_at,
      !discovery_.component().empty() && state_.presence_out,  // no flood before the presence
      state_.not_before,
      state_.last_presence_at,
      state_.presence_sent_at,
      state_.logout_deadline};
  const client::TimerSettings settings{options_.settle_quiet, options_.settle_max,
                                       options_.request_timeout};
  switch (client::due_action(timers, settings, checkpoints_, t)) {
    case client::TimerAction::kRequestTimeout:
      on_timeout();
      break;
    case client::TimerAction::kEnable:
      send_enable();
      break;
    case client::TimerAction::kCheckpoint:
      send_checkpoint();
      break;
    case client::TimerAction::kDisconnect:
      transport_.disconnect();
      break;
    case client::TimerAction::kNone:
      break;
  }
}

bool Session::disable() {
  if (!connected_) return false;
  if (state_.key && !discovery_.component().empty() && state_.phase == Phase::kOnline) {
    send_request(Request::kDisable, proto::to_xml(proto::Disable{state_.key->stream}));
  }
  drop_key();
  state_.phase = Phase::kPlain;
  return true;
}

bool Session::logout() {
  if (!connected_) return false;
  const bool online = state_.phase == Phase::kOnline && state_.key;
  if (online && state_.pending.kind == Request::kNone) {
    state_.phase = Phase::kLoggingOut;
    state_.logout_deadline = now() + options_.logout_timeout;
    send_checkpoint();
    return true;
  }
  if (online && state_.pending.kind == Request::kCheckpoint) {
    state_.phase = Phase::kLoggingOut;  // the checkpoint in flight is the last one
    state_.logout_deadline = now() + options_.logout_timeout;
    return true;
  }
  transport_.disconnect();
  return true;
}

void Session::on_disconnect() {
  // An answer in flight is lost (a sync's too); the component keeps the previous key for
  // this case (spec "Lost Results"), which is what the store holds.
  connected_ = false;
  router_.clear();
  discovery_.on_disconnect();
  roster_.on_disconnect();
  state_.pending = {};
  state_.phase = Phase::kOffline;
  state_.await_reflection = false;
  state_.verifying_marker = false;
  state_.presence.reset();
  if (server_info_ == ServerInfo::kPending) server_info_ = ServerInfo::kUnknown;
}

}  // namespace rpsync::strophe
