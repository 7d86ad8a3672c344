// SPDX-License-Identifier: MIT
// The client's copy of its roster between sessions, for roster versioning (RFC 6121
// §2.6): the items exactly as the server sent them plus the version string that names
// them. On reconnect the client offers that version; a server whose roster did not
// change answers with an empty result and the client uses this copy instead.
//
// Backends implement RosterCache per account (bare JID). MemoryRosterCache serves tests
// and applications that do not persist; SqliteRosterCache (sqlite_roster_cache.h) keeps
// the roster in the client's SQLite file next to the rpsync session, checksummed, one
// transaction per save.
// Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../protocol/status.h"

namespace rpsync::client {

// One <item/> of jabber:iq:roster. Empty name/ask mean the attribute was absent.
struct CachedRosterItem {
  std::string jid;  // bare JID as the server wrote it
  std::string name;
  std::string subscription;         // none|to|from|both ("remove" never stored)
  std::string ask;                  // "" or "subscribe"
  std::vector<std::string> groups;  // in the server's order
  friend bool operator==(const CachedRosterItem&, const CachedRosterItem&) = default;
};

struct CachedRoster {
  std::string ver;  // opaque (RFC 6121 §2.6.1); "" = not versioned, never offered
  std::vector<CachedRosterItem> items;  // sorted by jid, each jid at most once
  friend bool operator==(const CachedRoster&, const CachedRoster&) = default;
};

// Puts `items` in the canonical order (by jid; a later duplicate replaces an earlier one).
void canonicalise(std::vector<CachedRosterItem>& items);

// Applies one roster push item (RFC 6121 §2.1.6): subscription "remove" deletes the
// contact, anything else adds or replaces it. Keeps the canonical order.
void apply_push(CachedRoster& roster, const CachedRosterItem& item);

// Integrity check value stored with a cached roster: SHA-1 (hex) over a length-prefixed
// encoding of ver and every field of every item, in canonical order. Detects a torn or
// edited record; it is not a security measure.
std::string roster_checksum(const CachedRoster& roster);

// The account's roster (an empty optional when there is none), or the error: kCorrupt
// when a record exists but failed its check, kIoError when it cannot be read.
using RosterLoadResult = StatusOr<std::optional<CachedRoster>>;

class RosterCache {
 public:
  virtual ~RosterCache();
  virtual RosterLoadResult load(std::string_view account) = 0;
  // Replaces the account's roster atomically (after a crash: old or new, never a mix).
  virtual Status save(std::string_view account, const CachedRoster& roster) = 0;
  virtual Status erase(std::string_view account) = 0;
};

class MemoryRosterCache final : public RosterCache {
 public:
  RosterLoadResult load(std::string_view account) override;
  Status save(std::string_view account, const CachedRoster& roster) override;
  Status erase(std::string_view account) override;

  std::size_t saves() const { return saves_; }  // number of successful save() calls

 private:
  std::map<std::string, CachedRoster, std::less<>> rosters_;
  std::size_t saves_ = 0;
};

}  // namespace rpsync::client
