// SPDX-License-Identifier: MIT
// Roster versioning (RFC 6121 §2.6) for the gloox client, minus the gloox plumbing
// (which lives in client.h): what to ask for, what to make of the answer, and how pushes
// keep the cached roster current.
//
//   begin()     before the roster get: loads the account's cached roster (a corrupt
//               record is erased) and decides plain / bootstrap (ver='') / versioned.
//   incoming()  every top-level element, before gloox sees it:
//                 - the result of our get WITH <query ver=.../>: the full roster; it
//                   replaces the cache (plain Prosody also answers a stale ver this way);
//                 - the result WITHOUT <query/> to a versioned get: "unchanged"
//                   (§2.6.3); returns a copy of that result carrying the cached items and
//                   version, for gloox to handle instead of the empty one;
//                 - a roster push (iq set, from absent or the account's bare JID): applied
//                   to the cached roster, whose version becomes the push's ver; saved.
//                   This covers pushes that follow an empty result (a server sending only
//                   the changes, §2.6.3) as well as pushes while online.
// A push without ver empties the cached version, so the next login bootstraps.
//
// Not thread-safe; used from the gloox thread only.
#pragma once

#include <gloox/tag.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roster_cache.h"
#include "roster_plan.h"

namespace rpsync::client {

// <query xmlns='jabber:iq:roster'/> child of an iq, or null.
const gloox::Tag* roster_query(const gloox::Tag& iq);
// The items of a roster query, canonicalised; items without a jid are skipped.
std::vector<CachedRosterItem> items_from_query(const gloox::Tag& query);
// <query xmlns='jabber:iq:roster' ver='...'> with one <item/> per cached item (caller owns).
gloox::Tag* query_from_cache(const CachedRoster& roster);

struct RosterStats {
  RosterRequestKind last_request = RosterRequestKind::kPlain;
  bool from_cache = false;       // the last roster result was empty; the cache filled it
  std::size_t result_bytes = 0;  // size of the last roster result as received
  std::size_t pushes = 0;        // roster pushes received since the last request
  std::size_t push_bytes = 0;    // their size
  std::size_t saves = 0;         // successful cache writes since the last request
  Status load_status;            // of the last load (kCorrupt: it was discarded)
  Status save_status;            // of the last save or erase
};

class RosterVersioning {
 public:
  // Not owned; null turns versioning off (plain gloox behaviour). Takes effect at the
  // next begin().
  void set_cache(RosterCache* cache);
  RosterCache* cache() const { return cache_; }

  // Starts a roster request for `account` (bare JID).
  RosterRequest begin(std::string account, bool server_rosterver);
  // The id of the get that begin() planned.
  void sent(std::string id) { pending_id_ = std::move(id); }

  // See the header comment. Returns the element gloox should handle instead of `tag`,
  // or null to let gloox handle `tag` itself.
  std::unique_ptr<gloox::Tag> incoming(const gloox::Tag& tag);

  const RosterStats& stats() const { return stats_; }
  // The roster the cache holds for this session (null when versioning is not in use).
  const CachedRoster* live() const { return live_ ? &roster_ : nullptr; }

 private:
  void save();
  void erase();

  RosterCache* cache_ = nullptr;
  std::string account_;
  std::string pending_id_;
  RosterRequestKind pending_kind_ = RosterRequestKind::kPlain;
  std::optional<CachedRoster> loaded_;  // what begin() loaded, for an empty result
  CachedRoster roster_;
  bool live_ = false;  // roster_ mirrors the server's versioned roster; pushes update it
  RosterStats stats_;
};

}  // namespace rpsync::client
