// SPDX-License-Identifier: MIT
// The reconnect decisions shared by both client bindings (gloox: manager.h, libstrophe:
// client_strophe/), as pure values with no XMPP library: why a login gets the full
// presence flood, how a (not resumed) login starts from what the store held, and what
// a <delta/> answer means for the presence cache.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../protocol/delta.h"
#include "../protocol/error.h"
#include "cache.h"
#include "store.h"

namespace rpsync::client {

struct SyncStats {
  std::size_t items = 0;  // children of the delta
  std::size_t bytes = 0;  // serialised size of the answer stanza
  std::chrono::microseconds round_trip{0};
  std::uint32_t count = 0;  // contact resources after the sync
};

enum class FullResyncReason : std::uint8_t {
  kNoStoredState,      // nothing stored for this account
  kStoreError,         // stored state unreadable or failed its digest check
  kKeyExpired,         // the stored key's lifetime passed; not sent
  kKeyRejected,        // the component answered an error (see FullResync::error)
  kDeltaDoesNotApply,  // the delta does not fit the stored snapshot
  kDigestMismatch,     // applied delta does not give the announced digest
  kMalformedAnswer,
  kTimeout,
  kComponentUnavailable,  // no rpsync component known for the stored key
};
std::string_view to_string(FullResyncReason r);

struct FullResync {
  FullResyncReason reason = FullResyncReason::kNoStoredState;
  std::optional<proto::StanzaError> error;  // kKeyRejected
  std::string detail;
};

struct LoginStart {
  enum class Kind : std::uint8_t {
    kSync,           // send <sync/> with the stored key, hold initial presence
    kNoStoredState,  // nothing stored: a full login (not an error)
    kFullResync,     // stored state unusable: drop it, report `failure`, full login
  };
  Kind kind = Kind::kNoStoredState;
  FullResync failure;  // kFullResync
};

// `load_failure`: what loading the store reported at construction (consumed here);
// `component`: the component known now ("" = none).
LoginStart plan_login(std::optional<FullResync>& load_failure,
                      const std::optional<SavedSession>& saved, std::int64_t unix_now,
                      const std::string& component);

// A <sync/> answer read against the cache: applied and verified (`failure` empty; the
// cache holds the new state) or the reason for a full login.
struct SyncAnswer {
  std::optional<FullResync> failure;
  bool component_missing = false;  // the error says the component is not there
  std::uint32_t lifetime = 0;
  SyncStats stats;
  std::vector<PresenceChange> changes;
};

// A result's <delta/> (null when the result had none; `why` then says what was wrong)
// applied to the cache. `answer_bytes`: the answer stanza's serialised size
// (SyncStats::round_trip is the caller's to fill in).
SyncAnswer read_delta(const proto::Delta* delta, std::string_view why, PresenceCache& cache,
                      std::size_t answer_bytes);
// An error answer to <sync/>.
SyncAnswer read_sync_error(const proto::StanzaError& e);

// The record to store after a verified answer: `key` with the snapshot at its moment,
// expiring `lifetime` seconds after `unix_now`.
SavedSession saved_session(std::string component, proto::SyncKey key, std::uint32_t lifetime,
                           std::int64_t unix_now, proto::PresenceState snapshot);

// Errors that say the component itself is not there (as opposed to rpsync answers).
bool component_missing(const proto::StanzaError& e);
// "condition/app-condition (text)" for FullResync::detail.
std::string describe(const proto::StanzaError& e);

}  // namespace rpsync::client
