// SPDX-License-Identifier: MIT
// The extern "C" read-only views of librpsync-strophe: phase, counters, presence view,
// roster.
#include <type_traits>

#include "client_strophe/handle.h"
#include "protocol/state.h"

namespace {

using rpsync::client::FullResyncReason;
using rpsync::strophe::Phase;

// The C enums mirror the C++ ones value for value.
static_assert(static_cast<int>(FullResyncReason::kComponentUnavailable) ==
              RPSYNC_STROPHE_COMPONENT_UNAVAILABLE);
static_assert(static_cast<int>(FullResyncReason::kStoreError) == RPSYNC_STROPHE_STORE_ERROR);
static_assert(static_cast<int>(Phase::kLoggingOut) == RPSYNC_STROPHE_LOGGING_OUT);
static_assert(static_cast<int>(Phase::kOnline) == RPSYNC_STROPHE_ONLINE);

}  // namespace

RPSYNC_STROPHE_API const char* rpsync_strophe_reason_string(rpsync_strophe_reason_t reason) {
  const auto r = static_cast<FullResyncReason>(reason);
  if (static_cast<int>(reason) < 0 ||
      static_cast<int>(reason) > RPSYNC_STROPHE_COMPONENT_UNAVAILABLE) {
    return "?";
  }
  return rpsync::client::to_string(r).data();  // literals: NUL-terminated
}

RPSYNC_STROPHE_API rpsync_strophe_phase_t rpsync_strophe_get_phase(const rpsync_strophe_t* h) {
  if (h == nullptr) return RPSYNC_STROPHE_OFFLINE;
  return static_cast<rpsync_strophe_phase_t>(h->session.phase());
}

RPSYNC_STROPHE_API const char* rpsync_strophe_get_component(const rpsync_strophe_t* h) {
  if (h == nullptr) return "";
  auto* m = const_cast<rpsync_strophe_t*>(h);
  try {
    m->component = h->session.component();
  } catch (...) {
    return "";
  }
  return m->component.c_str();
}

RPSYNC_STROPHE_API const char* rpsync_strophe_get_session_id(const rpsync_strophe_t* h) {
  return h == nullptr ? "" : h->session.session_id().c_str();
}

RPSYNC_STROPHE_API int rpsync_strophe_get_stats(const rpsync_strophe_t* h,
                                                rpsync_strophe_stats_t* stats) {
  if (h == nullptr || stats == nullptr) return XMPP_EINVOP;
  const auto& s = h->session;
  *stats = rpsync_strophe_stats_t{};
  stats->enables_sent = s.counters().enables_sent;
  stats->syncs_sent = s.counters().syncs_sent;
  stats->checkpoints_sent = s.counters().checkpoints_sent;
  stats->presence_stanzas = s.presence_stanzas();
  stats->presence_bytes = s.presence_bytes();
  stats->presence_marked = s.presence_marked() ? 1 : 0;
  stats->presence_confirmed = s.presence_confirmed() ? 1 : 0;
  stats->server_skips_flood = s.server_skips_flood() ? 1 : 0;
  stats->roster_from_cache = s.roster().stats().from_cache ? 1 : 0;
  stats->roster_result_bytes = s.roster().stats().result_bytes;
  return XMPP_EOK;
}

RPSYNC_STROPHE_API int rpsync_strophe_presence_foreach(
    const rpsync_strophe_t* h, void (*fn)(const rpsync_strophe_presence_t* p, void* userdata),
    void* userdata) {
  if (h == nullptr || fn == nullptr) return XMPP_EINVOP;
  for (const auto& [jid, fields] : h->session.cache().live()) {
    const rpsync_strophe_presence_t p = rpsync::strophe::c_presence(jid, fields);
    fn(&p, userdata);
  }
  return XMPP_EOK;
}

RPSYNC_STROPHE_API int rpsync_strophe_presence_digest(const rpsync_strophe_t* h, char hex[65],
                                                      uint32_t* count) {
  if (h == nullptr || hex == nullptr || count == nullptr) return XMPP_EINVOP;
  try {
    const rpsync::proto::StateDigest d = rpsync::proto::digest_of(h->session.cache().live());
    const std::string s = d.hex();
    s.copy(hex, 64);
    hex[64] = '\0';
    *count = d.count();
  } catch (const std::bad_alloc&) {
    return XMPP_EMEM;
  }
  return XMPP_EOK;
}

RPSYNC_STROPHE_API int rpsync_strophe_roster_foreach(
    const rpsync_strophe_t* h, void (*fn)(const rpsync_strophe_roster_item_t* item, void* userdata),
    void* userdata) {
  if (h == nullptr || fn == nullptr) return XMPP_EINVOP;
  try {
    const auto c = rpsync::strophe::c_roster(h->session.roster().roster());
    for (const auto& item : c.items) fn(&item, userdata);
  } catch (const std::bad_alloc&) {
    return XMPP_EMEM;
  }
  return XMPP_EOK;
}

RPSYNC_STROPHE_API const char* rpsync_strophe_roster_version(const rpsync_strophe_t* h) {
  return h == nullptr ? "" : h->session.roster().roster().ver.c_str();
}
