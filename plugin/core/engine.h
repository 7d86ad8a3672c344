// SPDX-License-Identifier: MIT
// The presence state engine: turns the stream of presence the component observes into
// versioned state, and a sync key into the exact, minimal delta — or an honest failure.
// Pure: standard library + rpsync_protocol; no sockets, no clock (injected), no database
// (mutations are handed out as a core::Batch for a Store to persist).
//
// Model (spec "Key", "Delta Format", "Digest"):
//  * Versions. Every observed change of a contact resource takes the next value of one
//    engine-wide counter. A resource record holds its current fields, the version of its
//    last change (`since`), and its cached proto::ResourceHash, so a digest is a sum.
//    Each contact (bare JID) caches the digest sum, count and estimated wire size of its
//    available resources, and the version of its newest change. Hashes and sums are
//    computed lazily: a change marks them stale, the next digest that needs them
//    recomputes (SHA-256 is most of an update's cost, and most updates are overwritten
//    before anyone asks for a digest).
//  * Rosters are interned: a user's visible roster (contacts with subscription to/both,
//    given by the component through set_roster) is stored once per distinct member set
//    and shared by users and key moments holding it (reference counted).
//  * A key moment (snapshot) = (version, roster id, continuity epoch, time). Nothing else
//    is copied per key.
//  * History is kept in proportion to changes, and only while a live key needs it: when a
//    resource changes, its previous state is pushed onto its (usually empty) history list
//    only if some live key moment lies inside the previous state's validity range, and
//    older past states with no live moment inside are dropped; an offline resource stays
//    as a tombstone only while some live moment saw it available. Both are pruned as keys
//    retire (amortised O(1) per change once the oldest key passes them) and precisely by
//    the sweep in expire(), so one long-lived key does not pin every later change.
//  * A delta from moment (V, R0) for user U with current roster R1 walks the merged,
//    sorted member lists of R0 and R1 (O(|R0|+|R1|)), and only inside contacts changed
//    after V looks at their resources (O(changes)): removed contacts (+ each resource
//    they had at V as unavailable), added contacts (+ their current resources in full),
//    and per resource of a kept contact: new / changed (only differing fields, with
//    unsets) / unavailable. A resource that changed and changed back yields nothing.
//  * Continuity: gap() (component lost its server connection) and restore() (restart)
//    bump the epoch; a key whose moment is from an older epoch fails with
//    continuity-lost, never with a partial delta. Key moments taken after a gap (a
//    checkpoint on a session that survived it) are valid again from that moment. Each
//    moment records the digest of the user's view when taken (the client's state), so
//    that several instances can move a key by digest (adopt_session, readopt_restored).
//  * "Too large": a delta fails with too-large when it has more items than
//    Limits::max_delta_items, or when its estimated wire size is larger than the
//    estimated size of what a normal login would cost (one presence per available
//    resource of every visible contact, one unavailable reply per visible contact without
//    any). The estimates are simple byte counts (JIDs + field bytes + fixed overheads).
//
// Sessions and keys: a session is (owner bare JID, stream id, resource). It holds its
// newest key moment and the previous one (kept until a checkpoint quoting the newest as
// prev proves the client saw it). A key (stream, resource, last) is looked up under the
// owner given by the caller (the bare JID of the request's `from`); another user's key is
// simply not found (unknown-key). A session expires `lifetime_s` after its newest moment
// (enable/checkpoint/sync); at most `max_sessions_per_user` sessions per user are kept
// (the least recently moved is evicted). A sync does not retire the key it answered: that
// key's session stays until the new session proves the client received the result (a
// checkpoint quoting the sync's key as prev, or a sync with it), so a client whose result
// was lost syncs again with the old key and gets a correct delta. Sessions held only for
// such a pending proof are bounded apart: at most `max_sessions_per_user` more.
//
// Memory: per tracked resource one packed record (~100 bytes: cached hash, version,
// show/priority, interned caps id, one heap block for status|photo|idle), one 8-byte slot
// in a flat open-addressing JID index, and its share of the contact record (digest sum,
// counters, intrusive resource list). bench/core measures ~240 bytes beyond the JID and
// text bytes. History entries and tombstones exist only while live keys need them.
//
// Threading: not thread-safe; one owner (the component's event loop) calls everything.
// The engine uses no randomness; time comes only from options.clock.
// Durability: every state change appends to an internal Batch (if options.journal);
// take_changes() hands it to the caller, who writes it to a Store and flushes before
// acknowledging enable/checkpoint/sync. Typical wiring:
//   auto store = store::open_store(config.store_uri).value();   // start-up
//   core::Engine engine(options);
//   engine.restore(store->load().value());
//   on presence:  engine.observe_available(jid, fields); store->write(engine.take_changes());
//   on a request: auto r = engine.sync(...); store->write(engine.take_changes());
//                 store->flush();  // group several answers per flush if you can
//                 then send r (a delta or its error) to the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugin/core/journal.h"
#include "plugin/core/unknown.h"
#include "protocol/delta.h"
#include "protocol/digest.h"
#include "protocol/error.h"
#include "protocol/limits.h"
#include "protocol/presence.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "protocol/sync.h"

namespace rpsync::core {

// Milliseconds on any fixed origin; must not go backwards. Injected so expiry is testable.
using Clock = std::function<std::int64_t()>;

struct EngineOptions {
  std::uint32_t lifetime_s = 604800;      // key lifetime without a checkpoint
  std::size_t max_sessions_per_user = 8;  // each session holds at most two keys
  proto::Limits limits = proto::kDefaultLimits;
  bool journal = true;  // record mutations for take_changes(); off for pure in-memory use
  // Journal each resource's versions and history with its presence, and each answerable
  // key moment's version, so that after a restart a key from before a change is answered
  // with an exact delta (readopt_restored()). Off when several instances share one store:
  // their version counters are not comparable.
  bool history = true;
  Clock clock;  // required
};

struct EngineStats {
  std::size_t resources = 0;  // records, including tombstones
  std::size_t available = 0;
  std::size_t tombstones = 0;
  std::size_t history_entries = 0;  // previous states kept for live keys
  std::size_t contacts = 0;
  std::size_t rosters = 0;  // distinct interned rosters
  std::size_t users = 0;
  std::size_t sessions = 0;
  std::size_t live_moments = 0;  // key moments of the current epoch
  std::uint64_t version = 0;
  std::uint64_t epoch = 0;
};

class Engine {
 public:
  explicit Engine(EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- ingest (every presence the component observes) ---
  // A full JID became available or changed its fields. A no-op when nothing changed.
  void observe_available(std::string_view full_jid, const proto::PresenceFields& fields);
  // A full JID went offline. A no-op for a resource not currently available. A bare JID
  // without a resource of its own takes every resource of that contact offline (servers
  // answer probes for a contact without sessions with a bare unavailable).
  void observe_unavailable(std::string_view full_jid);
  // A presence of `full_jid` arrived that could not be read (skipped for a limit): its
  // state is unknown until its next readable presence (observe_available/unavailable;
  // a bare JID's covers every resource). Meanwhile a sync whose view (at the key's moment
  // or now) holds that contact fails with continuity-lost; once known again, every key
  // moment taken meanwhile whose view holds it is invalidated (it may record a state the
  // engine never held). Nothing else is affected: no gap for other users.
  void observe_unknown(std::string_view full_jid);
  // Contacts with a resource in that unknown state.
  std::size_t unknown_contacts() const;
  // The user's current visible roster: bare JIDs of contacts with subscription to/both
  // (duplicates allowed). Presence of contacts on no roster is kept as well.
  void set_roster(std::string_view user, const std::vector<std::string>& visible);
  // The component lost its view (disconnected from the server): every key moment taken
  // before now fails with continuity-lost. Presence data is kept; the component should
  // re-learn it (clear_presence() if it cannot trust it).
  void gap();
  // A gap closed per user instead of for everyone (single instance; spec "Continuity"):
  // call it INSTEAD of gap() once the view is re-learned after a reconnect or a restart
  // (begin_resync() ... end_resync(), after readopt_restored()), with the domains whose
  // presence the server witnessed re-sending completely (<sessions-sent/>). A key moment
  // from before stays answerable only while every contact of its view -- the roster at
  // the moment and the user's roster now, and at a later sync the roster then -- is on a
  // domain covered at every gap closed since the moment; the others are invalidated now
  // like invalidate_keys() (their digests dropped and journaled, so no restart takes them
  // again). History kept for the survivors makes their deltas exact: every change of a
  // covered contact during the gap was re-learned as a new version.
  struct GapDecision {
    std::size_t kept = 0;             // key moments still answerable
    std::size_t lost = 0;             // key moments invalidated (continuity-lost)
    std::size_t users_uncovered = 0;  // users with at least one moment invalidated
  };
  GapDecision close_gap(const std::set<std::string, std::less<>>& covered_domains);
  // Forgets every available resource (as if each went offline). For a component that
  // reconnects to a server that re-sends all current presence.
  void clear_presence();

  // Re-learning presence without forgetting it (several instances share one store and
  // feed): begin_resync() marks every available resource unconfirmed; any presence
  // observed for a resource afterwards confirms it; end_resync() takes every resource
  // still unconfirmed offline and returns how many. Unlike clear_presence(), only real
  // changes are journaled, so the store and the feed never say "everything went offline
  // and came back" (which peers would apply, and which a peer of the same server would
  // never undo). For a server that re-sends all current presence on connect (Prosody):
  // call end_resync() once that flood has settled. A second begin_resync() restarts it.
  void begin_resync();
  std::size_t end_resync();
  // end_resync() with a witness: `rows`, the presence the instances sharing the store
  // committed (a store image's resources), decides every resource the server did not
  // mention since begin_resync() (neither re-sent nor changed): available in `rows` ->
  // available with the row's fields (observed as a change when it differs here), absent
  // -> offline. What was observed since begin_resync() (by full JID, or by bare JID for a
  // bare unavailable) is fresher than any row and is kept. For an instance coming back from
  // its own gap while a peer of its observer group observed throughout: the
  // peer's rows fill what the server's re-send left out, so keys from before the gap can
  // stay valid. What the rows decide is not journaled (it is the store's already; published
  // again as this instance's observation it could undo a newer change at a peer); what was
  // observed since begin_resync() was journaled when observed.
  struct ResyncEnd {
    std::size_t gone = 0;     // taken offline (unmentioned, and absent from the rows)
    std::size_t adopted = 0;  // unmentioned, taken from the rows (new or different fields)
    std::size_t kept = 0;     // unmentioned, the rows agree with what was held
  };
  ResyncEnd end_resync(const std::vector<ResourceRecord>& rows);
  // The same ends in slices, for a caller whose loop must keep answering (a million
  // resources take seconds to go offline): end_resync_step() takes at most `max`
  // resources still unconfirmed offline per call, in the one-shot's order, adds them to
  // `gone` and returns true once none is left (then the resync is over). Each is
  // re-checked at its turn: a presence observed between two steps confirms it. With a
  // witness, adopt_resync_rows() first (one pass over `rows`; its `gone` stays 0), then the
  // steps, which journal nothing (as end_resync(rows)). A begin_resync() in the middle
  // restarts; cancel_resync() ends it without taking anything offline.
  bool end_resync_step(std::size_t max, std::size_t& gone);
  ResyncEnd adopt_resync_rows(const std::vector<ResourceRecord>& rows);
  void cancel_resync();

  // --- sessions (spec: Enabling, Checkpoints, Disabling, Synchronising) ---
  // `user` is the bare JID of `from`, `resource` its resource part.
  // Enabling an existing session resets its keys to this moment.
  proto::Result<proto::Enabled> enable(std::string_view user, std::string_view stream,
                                       std::string_view resource, std::string_view iq_id);
  // Errors: not-enabled (no such session, or it expired), out-of-order (prev is not the
  // newest key's `last`).
  proto::Result<proto::Checkpointed> checkpoint(std::string_view user, std::string_view stream,
                                                std::string_view resource, std::string_view prev,
                                                std::string_view iq_id);
  // Errors: not-enabled.
  proto::Result<std::monostate> disable(std::string_view user, std::string_view stream,
                                        std::string_view resource);
  // Answers the old key with the delta to the current view and enables (user, new_stream,
  // new_resource) with key `iq_id`. The old key stays valid until that new session proves
  // receipt (its first checkpoint quotes `iq_id`, or a sync uses it); then it is retired.
  // A sync with a session's newest key proves the sync that created that session. Errors:
  // unknown-key, expired, continuity-lost, too-large (the last three also retire the old
  // session).
  // `fits`, when set, is asked about the finished delta before anything moves: false
  // answers too-large and leaves the old key valid (the answer would not fit in one
  // stanza the server accepts, spec "Limits").
  using Fits = std::function<bool(const proto::Delta&)>;
  proto::Result<proto::Delta> sync(std::string_view user, std::string_view new_stream,
                                   std::string_view new_resource, std::string_view iq_id,
                                   const proto::SyncKey& old_key, const Fits& fits = {});
  // Drops sessions whose lifetime has passed; returns how many. Also sweeps every record
  // with history (O(resources)): past states and tombstones no live key moment needs are
  // dropped. Call it periodically (e.g. once a minute).
  std::size_t expire();

  // --- undo (a request whose changes the store could not make durable moves nothing) ---
  // save_sessions(user) records the user's sessions and keeps what their key moments need
  // (history, rosters) alive; rollback_sessions() then puts them back exactly as they were
  // (journaling the sessions it erases and restores), commit_sessions() forgets the record.
  // One savepoint per user (several users' requests may await durability at once); a new
  // save_sessions(user) commits that user's previous one.
  void save_sessions(std::string_view user);
  void commit_sessions(std::string_view user);
  void rollback_sessions(std::string_view user);

  // --- replication (several instances over one Redis; plugin/feed delivers the entries) ---
  // Changes taken at another instance were already stored by that instance: none of the
  // calls below journals anything, except purge_user(kLocal).
  enum class Source { kLocal, kReplicated };
  // Applies one mutation made at another instance: PutResource / EraseResource as
  // observe_available / observe_unavailable, PutRoster as set_roster, PutSession as
  // adopt_session without digests (its moments are kept but not answerable), EraseSession
  // drops the session if present, PutEpoch is ignored (each engine keeps its own epoch).
  void apply_replicated(const Mutation& m);
  // Adopts a session taken at another instance, replacing a local one with the same
  // (user, stream, resource). Its key moments are taken NOW in this engine (version,
  // roster, epoch, clock: instances' clocks need not share an origin, so the lifetime
  // counts from the adoption). A moment is answerable only when the digest the origin
  // computed for it (digest_at() there) equals digest(user) here now: equal digests mean
  // this engine's view of the user is the state the client held at the origin's moment,
  // so a delta from now is exact. Otherwise (no digest, or this engine lags or leads the
  // origin) the moment is kept but a sync on it answers continuity-lost.
  void adopt_session(const SessionRecord& record, const std::optional<proto::StateDigest>& newest,
                     const std::optional<proto::StateDigest>& previous);
  // Digest of the user's view at the session's key moment `last` (the newest or the
  // previous one): what the client holds. nullopt when there is no such answerable moment.
  // Cost: O(roster) when nothing in the roster changed since the moment, else one SHA-256
  // per resource of the roster.
  std::optional<proto::StateDigest> digest_at(std::string_view user, std::string_view stream,
                                              std::string_view resource,
                                              std::string_view last) const;
  // Forgets every session and the roster of `user` (admin "purge user"); presence the
  // user shows to others is observed data and stays. kLocal journals EraseSession and an
  // empty PutRoster so the store forgets them too. Returns the number of sessions removed.
  std::size_t purge_user(std::string_view user, Source source = Source::kLocal);
  // Admin "invalidate keys": every key of `user` (of every user when `user` is "*") fails
  // with continuity-lost from now on; the sessions stay, so a checkpoint takes a new
  // valid key. The moments' digests are dropped and each session that had one is
  // journaled without, so no restart can take them again (readopt_restored()). Returns
  // the number of key moments invalidated.
  std::size_t invalidate_keys(std::string_view user);

  // --- views ---
  // Available resources of the user's visible contacts, as the client should hold them.
  proto::PresenceState view(std::string_view user) const;
  // digest_of(view(user)), computed from cached sums in O(roster).
  proto::StateDigest digest(std::string_view user) const;
  EngineStats stats() const;

  // --- durability ---
  // Mutations since the last call, in order (empty when options.journal is false).
  Batch take_changes();
  // Rebuilds a freshly constructed engine from a store image: presence, with the versions
  // and history the rows carry. Counts as a gap: every restored key fails with
  // continuity-lost until its session checkpoints again (or readopt_restored() takes it
  // again). Records a PutEpoch mutation for the new epoch (and, with history, each row
  // written without versions again with the version now).
  void restore(const Image& image);
  // Takes restored key moments again, in the current epoch, keeping their time (the
  // lifetime still counts from it). First rule (one instance, right after restore()): a
  // moment that was answerable at the stop and whose version was persisted, when the view
  // at that version rebuilt from the restored history (under the user's roster) has the
  // recorded digest (TxnRecord::digest, the client's state), is taken again AT its version:
  // a delta from it holds every change after it, before the stop and after. Else (and for
  // a restart a peer of the observer group covered, feed/replica.h, once this engine's view
  // is re-learned): a moment whose recorded digest equals the user's digest now is taken
  // again now: the client holds exactly this view, so a delta from now is exact (the rule
  // of adopt_session()). Others stay continuity-lost. Journals each moved session. Applies
  // once: a moment not taken again by the first call never is. Returns how many moments
  // were taken again. O(sessions x roster).
  std::size_t readopt_restored();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rpsync::core
