// SPDX-License-Identifier: MIT
// The reconnect half of RpsyncManager as pure decisions: how a (not resumed) login
// starts from what the store held, and what a <sync/> answer means for the presence
// cache. The manager sends, holds and releases presence (not installed).
#pragma once

#include <gloox/iq.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client_ext/manager.h"

namespace rpsync::client {

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

// `answer_bytes`: the answer stanza's serialised size (SyncStats::round_trip is the
// caller's to fill in).
SyncAnswer read_sync_answer(const gloox::IQ& iq, PresenceCache& cache, std::size_t answer_bytes);

}  // namespace rpsync::client
