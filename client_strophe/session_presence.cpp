// SPDX-License-Identifier: MIT
// Session: incoming stanzas, the held initial presence and the live presence view.
#include <utility>

#include "client_strophe/own_disco.h"
#include "client_strophe/session.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/presence.h"
#include "protocol/state.h"

namespace rpsync::strophe {

bool Session::send_initial_presence(const xml::Element& presence) {
  if (!connected_ || state_.presence || state_.presence_out) return false;
  if (presence.name() != "presence" || presence.attr("type") || presence.attr("to")) return false;
  xml::Element p = presence;
  if (!options_.caps_node.empty() && p.child("c", ns::kCaps) == nullptr) {
    p.add(caps_element(options_.caps_node, caps_ver(features_)));
  }
  state_.presence = std::move(p);
  maybe_release();
  return true;
}

bool Session::roster_request() {
  if (!connected_ || state_.roster_wanted) return false;
  state_.roster_wanted = true;
  router_.send("get", {}, roster_.begin(options_.roster_ver),
               [this](const xml::Element& iq, std::size_t bytes) {
                 state_.roster_answered = true;  // an error answer releases the presence too
                 if (roster_.on_result(iq, bytes)) {
                   events_.roster(roster_.roster(), roster_.stats().from_cache);
                 }
                 maybe_release();
               });
  return true;
}

// The presence goes out once nothing holds it: the sync's answer, the roster (when
// requested) and, after a verified sync, whether the server has the gate.
void Session::maybe_release() {
  if (!state_.presence || state_.presence_out || !connected_) return;
  if (state_.phase == Phase::kSyncing) return;
  if (state_.roster_wanted && !state_.roster_answered) return;
  const bool mark_wanted = state_.synced && options_.synced_marker;
  if (mark_wanted && server_info_ == ServerInfo::kPending) return;
  release(mark_wanted && server_synced_);
}

void Session::release(bool marked) {
  xml::Element p = *state_.presence;
  if (marked) p.add(proto::synced_marker());
  state_.presence_out = true;
  state_.presence_marked = marked;
  state_.await_reflection = marked;
  state_.presence_sent_at = state_.last_presence_at = now();
  transport_.send(p);
  log(std::string("presence.sent marked=") + (marked ? "1" : "0"));
  events_.presence_sent(marked);
}

// The checkpoint after a marked presence disagreed: a contact changed between the sync
// answer and the initial presence. Spec: unavailable, then initial presence again without
// the marker, and the server's answers (the flood) become the state.
void Session::reflood() {
  cache_.clear();
  events_.full_resync(
      {client::FullResyncReason::kDigestMismatch, std::nullopt,
       "state after the marked initial presence differs; asking the server for all presence"});
  xml::Element unavailable("presence", std::string(ns::kClient));
  unavailable.set_attr("type", "unavailable");
  transport_.send(unavailable);
  transport_.send(*state_.presence);
  state_.presence_marked = false;
  state_.presence_sent_at = state_.last_presence_at = now();
}

void Session::on_stanza(const xml::Element& stanza, std::size_t bytes) {
  if (!connected_) return;
  if (stanza.name() == "presence") {
    on_presence(stanza, bytes);
  } else if (stanza.name() == "iq") {
    on_iq(stanza, bytes);
  }
}

void Session::on_iq(const xml::Element& iq, std::size_t bytes) {
  if (router_.dispatch(iq, bytes)) return;
  if (is_roster_push(iq)) {
    const bool applied = roster_.on_push(iq);
    xml::Element ack("iq", std::string(ns::kClient));
    ack.set_attr("type", "result");
    ack.set_attr("id", std::string(iq.attr("id").value_or("")));
    transport_.send(ack);
    if (applied) events_.roster(roster_.roster(), false);
    return;
  }
  if (options_.answer_disco) {
    if (auto answer = disco_info_answer(iq, features_)) transport_.send(*answer);
  }
}

bool Session::is_contact(std::string_view bare) const {
  if (bare == account_) return false;
  if (!roster_.known()) return true;  // no roster known: every other account counts
  for (const auto& item : roster_.roster().items) {
    if (item.jid != bare) continue;
    return item.subscription == "to" || item.subscription == "both";
  }
  return false;
}

void Session::on_presence(const xml::Element& p, std::size_t bytes) {
  const auto from = p.attr("from");
  const auto type = p.attr("type");
  if (!from || from->empty() || (type && *type != "unavailable")) return;
  if (state_.await_reflection && !type && *from == bound_jid_) {
    verify_reflected_presence(p);
    return;
  }
  if (from->find('/') == std::string_view::npos || !is_contact(proto::bare_of(*from))) return;
  ++state_.presence_stanzas;
  state_.presence_bytes += bytes;
  state_.last_presence_at = now();
  std::optional<proto::PresenceFields> fields;
  if (!type) fields = proto::fields_from_presence(p);
  if (auto change = cache_.on_presence(*from, fields)) {
    checkpoints_.presence_changed();
    events_.presence(*change);
  }
}

// The server processed the marked initial presence. Its reflection may carry the
// server's confirmation (spec: "Confirmation by the Server"): nothing reached this user
// since the sync request, so the state is verified. Otherwise verify it now.
void Session::verify_reflected_presence(const xml::Element& reflection) {
  state_.await_reflection = false;
  if (proto::has_synced_marker(reflection)) {
    state_.confirmed_by_server = true;
    return;
  }
  if (state_.pending.kind == Request::kNone && state_.key && state_.phase == Phase::kOnline) {
    state_.verifying_marker = true;
    send_checkpoint();
  }
}

}  // namespace rpsync::strophe
