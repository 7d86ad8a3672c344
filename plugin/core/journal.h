// SPDX-License-Identifier: MIT
// The durable side of the engine, as plain values: the mutations the engine emits
// (a Batch, in order) and the image it is rebuilt from after a restart.
//
// The engine keeps everything in memory; a Store (plugin/store/) is its durable log.
// What is persisted is exactly what must survive a restart:
//   - the current presence of every available contact resource, and (EngineOptions::history)
//     with it the change history a delta from a live key moment needs: the version of its
//     last change, the past states some live moment saw, and tombstones (offline resources
//     some live moment saw available), so that after a restart a key from before a change
//     can still be answered with an exact delta (Engine::readopt_restored()),
//   - every user's visible roster,
//   - every session's keys with the digest of the client's state at each (so an
//     acknowledged checkpoint is never lost, and an old key is answered with
//     continuity-lost rather than unknown-key, or taken again, Engine::readopt_restored()),
//   - the continuity epoch (bumped by every gap and every restart).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/digest.h"
#include "protocol/presence.h"

namespace rpsync::core {

// A key of the same user, named by its session and its `last`.
struct KeyRef {
  std::string stream;
  std::string resource;
  std::string last;
  friend bool operator==(const KeyRef&, const KeyRef&) = default;
};

// One key moment of a session, as persisted.
struct TxnRecord {
  std::string id;           // iq id of the transaction (the key's `last`)
  std::uint64_t epoch = 0;  // continuity epoch the moment was taken in
  std::int64_t at_ms = 0;   // clock reading when it was taken
  // The digest of the user's view at the moment: the state the client holds (absent in
  // records written before it was kept). Lets a restarted instance take a key moment again
  // when its view equals it (Engine::readopt_restored()).
  std::optional<proto::StateDigest> digest;
  // Set on the moment a sync created (a session's newest only): the key it answered. That
  // key's session is kept, so a client that lost the sync's result can sync with it again,
  // and is retired once the client proves it received this moment (spec "Lost Results").
  std::optional<KeyRef> retires = std::nullopt;
  // The engine's version at the moment, kept only while the moment is answerable and its
  // history is journaled (EngineOptions::history): lets a restart rebuild the view at the
  // moment from the resources' versions and history (absent in older records).
  std::optional<std::uint64_t> version = std::nullopt;
  // With `version`: a fingerprint of the visible roster at the moment (order-independent
  // hash of its contacts' bare JIDs), so a restart rebuilds the view under that roster only.
  std::uint64_t roster_fp = 0;
  friend bool operator==(const TxnRecord&, const TxnRecord&) = default;
};

// A session: (user, stream, resource) with its newest key moment and the previous one
// (kept until a checkpoint proves the client saw the newest; spec "Key"). A session whose
// key a sync answered stays until the new session proves receipt (TxnRecord::retires).
struct SessionRecord {
  std::string user;  // bare JID of the owner
  std::string stream;
  std::string resource;
  TxnRecord newest;
  std::optional<TxnRecord> previous;
  friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

// One past state of a resource: valid from version `since` until the next one's.
struct PastRecord {
  std::uint64_t since = 0;
  std::optional<proto::PresenceFields> fields;  // nullopt: offline
  friend bool operator==(const PastRecord&, const PastRecord&) = default;
};
// A resource's change history: the version of its current state and the past states a
// live key moment needs (oldest first). A store keeps it with the row, as a whole.
struct Versions {
  std::uint64_t since = 0;
  std::vector<PastRecord> past;
  friend bool operator==(const Versions&, const Versions&) = default;
};

struct PutResource {
  std::string jid;  // full JID
  proto::PresenceFields fields;
  std::optional<Versions> versions = std::nullopt;  // absent: not journaled (history off)
};
// The resource went offline. With `tombstone`, the store keeps an offline row with that
// history (a live key moment saw it available); else the row is deleted. `drop` deletes a
// tombstone no live moment needs any more: it is no observation (replicas ignore it).
struct EraseResource {
  std::string jid;
  std::optional<Versions> tombstone = std::nullopt;
  bool drop = false;
};
// A user's visible roster (subscription to/both). An empty list erases the row.
struct PutRoster {
  std::string user;
  std::vector<std::string> contacts;  // bare JIDs
};
struct PutSession {
  SessionRecord session;
};
struct EraseSession {
  std::string user;
  std::string stream;
  std::string resource;
};
struct PutEpoch {
  std::uint64_t epoch = 0;
};

using Mutation =
    std::variant<PutResource, EraseResource, PutRoster, PutSession, EraseSession, PutEpoch>;

// Mutations in the order they happened; later ones override earlier ones for the same row.
using Batch = std::vector<Mutation>;

struct RosterRecord {
  std::string user;
  std::vector<std::string> contacts;
  friend bool operator==(const RosterRecord&, const RosterRecord&) = default;
};

struct ResourceRecord {
  std::string jid;
  proto::PresenceFields fields;
  std::optional<Versions> versions = std::nullopt;  // absent in rows written without history
  friend bool operator==(const ResourceRecord&, const ResourceRecord&) = default;
};

// An offline resource some live key moment saw available.
struct TombstoneRecord {
  std::string jid;
  Versions versions;
  friend bool operator==(const TombstoneRecord&, const TombstoneRecord&) = default;
};

// Everything a store holds; Engine::restore() rebuilds the engine from it.
// Order of the vectors is unspecified.
struct Image {
  std::uint64_t epoch = 0;                // 0 = never written
  std::vector<ResourceRecord> resources;  // available resources
  std::vector<TombstoneRecord> tombstones;
  std::vector<RosterRecord> rosters;
  std::vector<SessionRecord> sessions;
};

}  // namespace rpsync::core
