// SPDX-License-Identifier: MIT
// RosterHelper: the versioned roster (RFC 6121 2.6) libstrophe lacks. It builds the
// roster get (ver = the cached version, '' to bootstrap, none when versioning is off),
// reads the answer (a full roster replaces the cache; an empty result means "unchanged"
// and the cached roster is the roster) and applies roster pushes (from nobody or the
// account itself only, RFC 6121 2.1.6) to the roster and the cache; a push's ver becomes
// the cached version (a push without ver clears it, so the next login bootstraps). The
// cache is client_ext's RosterCache (SqliteRosterCache: checksummed, one transaction per
// save; a corrupt record is erased and the roster fetched in full).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "client_ext/roster_cache.h"
#include "client_ext/roster_plan.h"
#include "protocol/xml.h"

namespace rpsync::strophe {

struct RosterStats {
  client::RosterRequestKind last_request = client::RosterRequestKind::kPlain;
  bool from_cache = false;       // the last result was empty; the cache filled it
  std::size_t result_bytes = 0;  // size of the last roster result
  std::size_t pushes = 0;
};

class RosterHelper {
 public:
  // Not owned; null = no cache (plain gets, nothing persisted).
  void set_cache(client::RosterCache* cache, std::string account);

  // The <query/> payload of the next roster get; `versioning`: offer ver.
  xml::Element begin(bool versioning);
  // The answer to that get. True when the roster is known now (result, not error).
  bool on_result(const xml::Element& iq, std::size_t bytes);
  // A roster push (an iq set with a jabber:iq:roster query): true when it is genuine and
  // was applied; the caller answers it with an empty result either way.
  bool on_push(const xml::Element& iq);

  // Whether a roster result arrived in this session (pushes apply from then on).
  bool known() const { return known_; }
  const client::CachedRoster& roster() const { return roster_; }
  const RosterStats& stats() const { return stats_; }
  void on_disconnect() { known_ = false; }

 private:
  void save();
  void erase();

  client::RosterCache* cache_ = nullptr;
  std::string account_;
  std::optional<client::CachedRoster> loaded_;  // what begin() loaded, for an empty result
  client::RosterRequestKind pending_kind_ = client::RosterRequestKind::kPlain;
  client::CachedRoster roster_;
  bool known_ = false;
  bool versioned_ = false;  // roster_ mirrors a versioned roster: the cache follows it
  RosterStats stats_;
};

// Whether `iq` is a roster push: <iq type='set'> with <query xmlns='jabber:iq:roster'/>.
bool is_roster_push(const xml::Element& iq);

}  // namespace rpsync::strophe
