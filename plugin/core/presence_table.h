// SPDX-License-Identifier: MIT
// The presence table: every contact resource the component observed (current fields, the
// version of its last change, its cached hash), grouped by contact (bare JID) with each
// contact's cached digest sum, count and full-login size; the interned rosters; and the
// past states (history) and offline records (tombstones) kept only while a live key
// moment needs them. Versions come from one counter, bumped by every change.
// See engine.h for the model; the Engine drives this table and the sessions over it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "plugin/core/journal.h"
#include "plugin/core/packed_fields.h"
#include "plugin/core/recorder.h"
#include "plugin/core/slot_pool.h"
#include "plugin/core/text_index.h"
#include "protocol/digest.h"
#include "protocol/presence.h"
#include "protocol/state.h"

namespace rpsync::core {

struct PresenceTable {
  struct Past {
    std::uint64_t since = 0;  // valid over [since, next state's since)
    bool avail = false;
    Packed fields;
  };
  // Field order keeps the flags in one padding slot (record size is the memory figure).
  struct Resource {
    Text jid;
    std::uint64_t since = 0;             // version of the last change; absent before if no history
    mutable proto::ResourceHash hash{};  // valid when avail && hashed
    Packed fields;
    std::uint32_t contact = kNone;
    std::uint32_t next = kNone;  // next resource of the same contact
    bool avail = false;
    bool used = false;
    mutable bool hashed = false;
    std::unique_ptr<std::vector<Past>> history;  // oldest first
  };
  // [[no_unique_address]] lets `first` and `count` live in the tail padding of the text
  // and the digest: 80 bytes per contact instead of 88 (record size is the memory figure).
  struct Contact {
    [[no_unique_address]] Text jid;
    std::uint32_t first = kNone;  // list of its resources through Resource::next
    [[no_unique_address]] mutable proto::StateDigest sum;  // available ones, valid when summed
    std::uint32_t count = 0;                               // available resources
    std::uint64_t cost = 0;  // estimated full-login bytes of the available resources
    std::uint64_t changed = 0;
    std::uint32_t roster_refs = 0;
    bool used = false;
    mutable bool summed = true;
  };
  static_assert(sizeof(Contact) <= 80, "a contact record grew");
  struct Roster {
    std::vector<std::uint32_t> members;  // contact ids, sorted, unique
    std::uint64_t hash = 0;
    std::uint64_t fingerprint = 0;  // roster_fingerprint() of the members' JIDs
    std::uint32_t refs = 0;
    bool used = false;
  };
  // Order-independent hash of the bare JIDs of a roster's members: stable across restarts
  // (contact ids are not). TxnRecord::roster_fp.
  std::uint64_t roster_fingerprint(std::uint32_t roster) const;

  explicit PresenceTable(Recorder& recorder) : journal(recorder) {}
  PresenceTable(const PresenceTable&) = delete;  // res_key and contact_key point inside
  PresenceTable& operator=(const PresenceTable&) = delete;

  // ---------- live key moments ----------
  // Is there a live key moment v with lo <= v < hi?
  bool live_in(std::uint64_t lo, std::uint64_t hi) const;
  std::uint64_t min_live() const;
  // ---------- contacts ----------
  std::uint32_t contact_of(std::string_view bare);
  void maybe_free_contact(std::uint32_t id);
  // ---------- rosters ----------
  static std::uint64_t hash_members(const std::vector<std::uint32_t>& m);
  void ref_roster(std::uint32_t id);
  void unref_roster(std::uint32_t id);
  // Returns the interned roster for `members` (sorted, unique) without taking a reference.
  std::uint32_t intern_roster(std::vector<std::uint32_t> members);
  const std::vector<std::uint32_t>& members_of(std::uint32_t roster) const;
  bool in_roster(std::uint32_t roster, std::uint32_t cid) const;
  // ---------- resources ----------
  std::uint32_t new_resource(std::string_view full);
  void erase_resource(std::uint32_t id);
  // Before changing r at version `version`: keep its current state if a live moment
  // lies in [r.since, version).
  void push_history(std::uint32_t id);
  // Drops every past state no live moment lies in (not only those older than the oldest
  // key: one long-lived key must not pin the history of every later change).
  void drop_unneeded(std::uint32_t id);
  // A record that is offline now and was offline at every live moment is not needed.
  bool needed_offline(const Resource& r) const;
  // Full pass (from expire()): precise pruning of history and tombstones.
  void sweep();
  void prune_history(std::uint32_t id, std::uint64_t min);
  // State of r at version v: nullptr when absent, else its fields.
  const Packed* state_at(const Resource& r, std::uint64_t v) const;
  // Drops tombstones and past states older than every live moment (amortised).
  void compact();
  // ---------- ingest ----------
  void set_available(std::uint32_t id, Packed fields);
  // Subtracts r's current (available) state from its contact's sums.
  void unaccount(const Resource& r);
  void observe_available(std::string_view full, const proto::PresenceFields& f);
  void go_offline(std::uint32_t id);
  void observe_unavailable(std::string_view full);
  void clear_presence();
  // ---------- digests ----------
  // Hashes are computed on demand: ingest only marks them stale, so a resource that
  // changes many times between two digests is hashed once.
  const proto::StateDigest& sum_of_contact(std::uint32_t cid) const;
  // The sum's count is the contacts' `count`: a summed contact holds one term per
  // available resource.
  proto::StateDigest digest_of_roster(std::uint32_t roster) const;
  // The digest of roster `roster` as it was at version v (one SHA-256 per resource), or
  // from the cached sums when the user's roster is still `now` == `roster` and no member
  // changed since v.
  proto::StateDigest digest_at(std::uint32_t roster, std::uint64_t v, std::uint32_t now) const;
  // Available resources of the roster's contacts.
  proto::PresenceState view_of(std::uint32_t roster) const;
  // ---------- durability of the history ----------
  // The resource's version and past states, as journaled with its row.
  Versions versions_of(const Resource& r) const;
  // Erases a tombstone no live moment needs, and tells the store (EraseResource::drop).
  void drop_tombstone(std::uint32_t id);
  // ---------- restart and resync ----------
  // Takes in a store image's resources and tombstones with their versions and history.
  // Rows without versions (written without history) are current from the version now:
  // their contacts go to `unversioned` (no view before now can be rebuilt for them), and,
  // when history is journaled, they are journaled again with that version.
  void load(const std::vector<ResourceRecord>& rows, const std::vector<TombstoneRecord>& tombs);
  void load_history(std::uint32_t id, const Versions& v);
  // Whether the view of `roster` at version v can be rebuilt from what was loaded.
  bool rebuildable(std::uint32_t roster) const;
  // Marks every available resource unconfirmed (Engine::begin_resync()).
  void begin_resync();
  // Takes every resource still unconfirmed offline; returns how many (the steps below,
  // run to the end in one call).
  std::size_t end_resync();
  // The end of a resync in slices, for a caller that must keep its loop answering: takes
  // at most `max` resources still unconfirmed offline, in id order (the one-shot's order),
  // looking at no more than 8 * `max` ids; adds them to `gone`. Each is re-checked at its
  // turn, so a presence observed between two steps confirms it. True when none is left:
  // then it compacts and the resync is over. begin_resync() restarts from the first id.
  bool end_resync_step(std::size_t max, std::size_t& gone);
  // Ends a resync without taking anything offline (the connection it re-learned is gone).
  void cancel_resync();

  Recorder& journal;  // PutResource / EraseResource of every observed change
  std::uint64_t version = 0;
  FieldTable packer;  // packs resource fields, interns their caps

  SlotPool<Resource, std::deque<Resource>> res;
  FlatIndex res_index;
  struct ResKey {
    const SlotPool<Resource, std::deque<Resource>>* res;
    std::string_view operator()(std::uint32_t id) const { return (*res)[id].jid.view(); }
  } res_key{&res};
  std::size_t available = 0;
  std::size_t history_entries = 0;
  std::unordered_set<std::uint32_t> unconfirmed;  // resync: available, not seen again yet
  // resync: JIDs observed since begin_resync() (full, or bare for a bare unavailable).
  // By name, not id: a resource taken offline may be erased and its id reused.
  bool resyncing = false;
  std::unordered_set<std::string> touched;
  std::uint32_t resync_next = 0;    // end_resync_step(): the next resource id it looks at
  bool resync_unjournaled = false;  // end_resync_step() journals nothing (witness rows)

  SlotPool<Contact, std::deque<Contact>> contacts;
  FlatIndex contact_index;
  struct ContactKey {
    const SlotPool<Contact, std::deque<Contact>>* contacts;
    std::string_view operator()(std::uint32_t id) const { return (*contacts)[id].jid.view(); }
  } contact_key{&contacts};

  SlotPool<Roster> rosters;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> roster_index;

  std::multiset<std::uint64_t> live;  // versions of the current epoch's key moments
  // Contacts (bare JIDs) loaded from rows without versions (load()); cleared when the
  // restored key moments have been decided (Engine::readopt_restored()).
  std::unordered_set<std::string> unversioned;

  std::deque<std::pair<std::uint64_t, std::uint32_t>> tomb_q;  // (went offline at, rid)
  std::deque<std::pair<std::uint64_t, std::uint32_t>> hist_q;  // (history entry ends at, rid)
};

}  // namespace rpsync::core
