// SPDX-License-Identifier: MIT
// The conversions of handle.h and the C callbacks behind CEvents.
#include <string>

#include "client_strophe/handle.h"

namespace rpsync::strophe {
namespace {

rpsync_strophe_change_kind_t c_kind(client::PresenceChange::Kind k) {
  switch (k) {
    case client::PresenceChange::Kind::kAvailable:
      return RPSYNC_STROPHE_AVAILABLE;
    case client::PresenceChange::Kind::kChanged:
      return RPSYNC_STROPHE_CHANGED;
    case client::PresenceChange::Kind::kUnavailable:
      break;
  }
  return RPSYNC_STROPHE_UNAVAILABLE;
}

// String literals of protocol/presence.cpp: NUL-terminated.
const char* c_show(proto::Show s) {
  switch (s) {
    case proto::Show::kChat:
      return "chat";
    case proto::Show::kAway:
      return "away";
    case proto::Show::kXa:
      return "xa";
    case proto::Show::kDnd:
      return "dnd";
    case proto::Show::kNone:
      break;
  }
  return "";
}

}  // namespace

rpsync_strophe_presence_t c_presence(const std::string& jid, const proto::PresenceFields& f) {
  rpsync_strophe_presence_t p{};
  p.jid = jid.c_str();
  p.kind = RPSYNC_STROPHE_AVAILABLE;
  p.show = c_show(f.show);
  p.status = f.status.c_str();
  p.priority = f.priority;
  p.caps_hash = f.caps ? f.caps->hash.c_str() : "";
  p.caps_node = f.caps ? f.caps->node.c_str() : "";
  p.caps_ver = f.caps ? f.caps->ver.c_str() : "";
  p.photo = f.photo.c_str();
  p.idle_since = f.idle_since.c_str();
  return p;
}

rpsync_strophe_presence_t c_presence(const client::PresenceChange& change) {
  rpsync_strophe_presence_t p = c_presence(change.jid, change.fields);
  p.kind = c_kind(change.kind);
  p.changed = change.changed;
  return p;
}

CRoster c_roster(const client::CachedRoster& roster) {
  CRoster out;
  out.groups.reserve(roster.items.size());
  out.items.reserve(roster.items.size());
  for (const auto& item : roster.items) {
    auto& g = out.groups.emplace_back();
    for (const auto& name : item.groups) g.push_back(name.c_str());
    out.items.push_back({item.jid.c_str(), item.name.c_str(), item.subscription.c_str(),
                         item.ask.c_str(), g.data(), g.size()});
  }
  return out;
}

void CEvents::synced(const client::SyncStats& s, const std::vector<client::PresenceChange>& c) {
  if (cb_.synced == nullptr) return;
  std::vector<rpsync_strophe_presence_t> changes;
  changes.reserve(c.size());
  for (const auto& change : c) changes.push_back(c_presence(change));
  const rpsync_strophe_sync_stats_t stats{s.items, s.bytes,
                                          static_cast<uint64_t>(s.round_trip.count()), s.count};
  cb_.synced(h_, &stats, changes.data(), changes.size(), userdata_);
}

void CEvents::full_resync(const client::FullResync& f) {
  if (cb_.full_resync == nullptr) return;
  cb_.full_resync(h_, static_cast<rpsync_strophe_reason_t>(f.reason), f.detail.c_str(), userdata_);
}

void CEvents::presence(const client::PresenceChange& c) {
  if (cb_.presence == nullptr) return;
  const rpsync_strophe_presence_t p = c_presence(c);
  cb_.presence(h_, &p, userdata_);
}

void CEvents::presence_sent(bool marked) {
  if (cb_.presence_sent != nullptr) cb_.presence_sent(h_, marked ? 1 : 0, userdata_);
}

void CEvents::enabled(bool matched) {
  if (cb_.enabled != nullptr) cb_.enabled(h_, matched ? 1 : 0, userdata_);
}

void CEvents::component(const std::string& jid) {
  if (cb_.component != nullptr) cb_.component(h_, jid.c_str(), userdata_);
}

void CEvents::roster(const client::CachedRoster& r, bool from_cache) {
  if (cb_.roster == nullptr) return;
  const CRoster c = c_roster(r);
  cb_.roster(h_, c.items.data(), c.items.size(), from_cache ? 1 : 0, userdata_);
}

void CEvents::log(const std::string& line) {
  if (cb_.log != nullptr) cb_.log(h_, line.c_str(), userdata_);
}

Options options_from(const rpsync_strophe_options_t& o) {
  Options out;
  if (o.component != nullptr) out.component = o.component;
  out.settle_quiet = Ms(o.settle_quiet_ms);
  out.settle_max = Ms(o.settle_max_ms);
  out.checkpoint_quiet = Ms(o.checkpoint_quiet_ms);
  out.checkpoint_interval = Ms(o.checkpoint_interval_ms);
  out.request_timeout = Ms(o.request_timeout_ms);
  out.logout_timeout = Ms(o.logout_timeout_ms);
  out.retry_after_wait = Ms(o.retry_after_wait_ms);
  out.rediscover_after = Ms(o.rediscover_after_ms);
  out.synced_marker = o.synced_marker != 0;
  out.answer_disco = o.answer_disco != 0;
  out.roster_ver = o.roster_ver != 0;
  if (o.caps_node != nullptr) out.caps_node = o.caps_node;
  return out;
}

}  // namespace rpsync::strophe
