// SPDX-License-Identifier: MIT
// Users, sessions and their key moments (engine.h: "Sessions and keys"). A user holds its
// visible roster (an interned roster of the presence table) and its sessions; a session
// (user, stream, resource) holds its newest key moment and the previous one. A moment
// records the version, roster, epoch and time it was taken, and the digest of the user's
// view then; while valid it keeps its roster and (through PresenceTable::live) the history
// a delta from it needs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/core/gap_coverage.h"
#include "plugin/core/presence_table.h"
#include "plugin/core/recorder.h"
#include "plugin/core/text_index.h"

namespace rpsync::core {

// The key of a session in SessionTable::by_key.
std::string session_key(std::string_view user, std::string_view stream, std::string_view resource);

struct SessionTable {
  struct Moment {
    std::string id;
    std::uint64_t version = 0;
    std::uint64_t epoch = 0;
    std::uint32_t roster = kNone;  // kNone: empty roster
    std::int64_t at_ms = 0;
    bool valid = false;     // taken in this process and epoch; counted in `live`
    bool restored = false;  // loaded by restore(), not taken again since
    // Restored with a version whose history was journaled: held in `live` (so the re-learn
    // keeps what a rebuild needs) until readopt_restored() decides it.
    bool pinned = false;
    std::uint64_t roster_fp = 0;  // restored: TxnRecord::roster_fp
    // Its view held no contact in an unknown state: the view at `version` is what the
    // engine observed, so its version may be persisted for a rebuild after a restart.
    bool exact = true;
    std::optional<proto::StateDigest> digest;  // the user's view when it was taken
    // A sync created it from this key (newest moments only; TxnRecord::retires).
    std::optional<KeyRef> retires;
    std::uint64_t gaps = 0;  // GapCoverage::closed() when it was taken
  };
  struct Session {
    std::string user, stream, resource;
    Moment newest;
    std::optional<Moment> previous;
    std::uint64_t seq = 0;  // order of the last move, for eviction
  };
  struct User {
    std::uint32_t roster = kNone;
    std::vector<std::string> sessions;  // session keys
  };

  SessionTable(const EngineOptions& options, PresenceTable& presence, Recorder& recorder)
      : opt(options), table(presence), journal(recorder) {}
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // ---------- key moments ----------
  // A moment of the user's view now (roster `roster`): holds the roster and, through the
  // table's live versions, the history a delta from it needs.
  Moment take_moment(std::string_view id, std::uint32_t roster);
  void release(Moment& m);
  // After a gap a moment can never answer again: it stops holding history and roster.
  void invalidate(Moment& m);
  // ---------- users ----------
  void set_roster(std::string_view user, const std::vector<std::string>& visible, bool record);
  void maybe_free_user(StrMap<User>::iterator it);
  // Every moment of the current epoch stops being answerable (epoch + 1).
  void gap();
  // ---------- sessions ----------
  // The session (user, stream, resource), or by_key.end().
  StrMap<Session>::iterator find(std::string_view user, std::string_view stream,
                                 std::string_view resource);
  StrMap<Session>::const_iterator find(std::string_view user, std::string_view stream,
                                       std::string_view resource) const;
  // The key moment of `s` that `last` names (its newest or its previous one), or nullptr.
  static const Moment* moment_named(const Session& s, std::string_view last);
  // Whether a delta or digest from `m` is exact: taken in this process and epoch, after
  // the last restore (history is complete from there).
  bool answerable(const Moment& m) const;
  // Whether every contact of `roster` was re-established at every gap closed after `m`.
  bool covered(const Moment& m, std::uint32_t roster) const;
  // The version persisted with a moment: only while it is answerable (or pinned), exact,
  // and history is journaled (TxnRecord::version).
  std::optional<std::uint64_t> persisted_version(const Moment& m) const;
  SessionRecord record_of(const Session& s) const;
  void journal_put(const Session& s);
  bool expired(const Session& s) const;
  void erase_session(StrMap<Session>::iterator it);
  // Creates or resets the session and returns it; evicts beyond the per-user bound. With
  // `retires`, the new key moment keeps that key's session until it is proven (prove()).
  Session& open_session(std::string_view user, std::string_view stream, std::string_view resource,
                        std::string_view iq_id, std::optional<KeyRef> retires = std::nullopt);
  // After a sync answered `old`'s key moment `used` (a moment of `old`): the session of the
  // new key, linked to the old key (`retires`), which stays held until the new one is
  // proven. A sync on the old session's own stream and resource keeps `used` as the
  // session's previous moment instead (the checkpoint rule retires it).
  Session& open_after_sync(StrMap<Session>::iterator old, const Moment& used,
                           std::string_view stream, std::string_view resource,
                           std::string_view iq_id);
  // The user's sessions whose key a pending sync answered: the session (of `user`) named
  // by a `retires` of some session's newest moment, while it still holds that key.
  std::vector<std::string> superseded(const User& u) const;
  // Whether a sync answered `it`'s key and its result is not proven yet: the session is
  // held only for a retried sync (not-enabled to checkpoint and disable).
  bool is_superseded(StrMap<Session>::const_iterator it) const;
  // The per-user bound: at most max_sessions_per_user sessions not superseded, and at most
  // twice that in all; the least recently used of the class over its bound goes first.
  // `keep` (the session just opened) is never evicted.
  void enforce_bound(User& u, StrMap<Session>::iterator keep);
  // The client proved it received `s`'s newest moment (a checkpoint quoting it, or a sync
  // with it): the key that moment was synced from is retired, and so, transitively, is the
  // key that one was synced from when it was answered from its own newest moment.
  // Erases sessions other than `s`; clears the link. The caller journals `s`.
  void prove(Session& s);
  // A copy of a moment keeps what the original kept alive (roster, history via `live`).
  void hold(const Moment& m);
  // ---------- savepoint (undo a request the store could not make durable) ----------
  // One savepoint per user; several users' requests may await durability at once.
  void save_sessions(std::string_view user);
  void drop_savepoint(std::string_view user);
  void rollback_sessions(std::string_view user);
  // ---------- restart ----------
  // Takes in a store image's sessions; their moments are kept as restored (not answerable
  // until taken again). A session already present is kept. A moment of the image's epoch
  // `last_epoch` with a version and a digest is pinned (Moment::pinned).
  void restore(const std::vector<SessionRecord>& records, std::uint64_t last_epoch);
  proto::StateDigest digest_of_user(std::string_view user) const;

  const EngineOptions& opt;
  PresenceTable& table;
  Recorder& journal;  // PutRoster, PutSession, EraseSession, PutEpoch
  std::uint64_t epoch = 1;
  std::uint64_t horizon = 0;  // history is complete for moments >= horizon
  std::uint64_t seq = 0;
  GapCoverage coverage;  // gaps closed per user (Engine::close_gap())
  // Whether a roster holds a contact in an unknown state (set by the engine).
  std::function<bool(std::uint32_t roster)> unsure;
  StrMap<User> users;
  StrMap<Session> by_key;  // by session_key()
  struct Savepoint {
    std::vector<std::string> order;  // the user's session keys, in order
    std::vector<Session> sessions;   // copies; their moments hold roster refs and `live`
  };
  StrMap<Savepoint> savepoints;  // by user
};

}  // namespace rpsync::core
