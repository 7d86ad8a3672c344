// SPDX-License-Identifier: MIT
// The client's presence cache and the state it shares with the component (pure values:
// no gloox, no clock, no I/O). Laws tested in tests/client_ext/cache_test.cpp:
//   after apply_delta(d) succeeds, digest_of(live()) == d.state;
//   a delta that does not fit the snapshot, or whose digest differs, changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../protocol/delta.h"
#include "../protocol/presence.h"
#include "../protocol/state.h"

namespace rpsync::client {

// One contact resource's presence as the application sees it change.
struct PresenceChange {
  enum class Kind : std::uint8_t { kAvailable, kChanged, kUnavailable };
  std::string jid;  // full JID
  Kind kind = Kind::kAvailable;
  proto::PresenceFields fields;  // the new fields (defaults for kUnavailable)
  proto::FieldMask changed = 0;  // kChanged: which fields differ
  friend bool operator==(const PresenceChange&, const PresenceChange&) = default;
};

std::string_view to_string(PresenceChange::Kind k);

// The changes that turn `before` into `after`, ordered by JID.
std::vector<PresenceChange> changes_between(const proto::PresenceState& before,
                                            const proto::PresenceState& after);

enum class DeltaFailure : std::uint8_t { kNone, kDoesNotApply, kDigestMismatch };

class PresenceCache {
 public:
  // The live view: every available contact resource as last seen.
  const proto::PresenceState& live() const { return live_; }
  // The state at the moment of the current key (what the component will diff against).
  const proto::PresenceState& snapshot() const { return snapshot_; }

  // Replaces both views (e.g. loaded from a store).
  void reset(proto::PresenceState state);
  void clear() { reset({}); }

  // A live presence: `fields` set = available, nullopt = unavailable. Returns the
  // change, or nullopt when it changes nothing.
  std::optional<PresenceChange> on_presence(std::string_view full_jid,
                                            const std::optional<proto::PresenceFields>& fields);

  // Applies a delta to the snapshot and verifies its digest. On success the result
  // becomes both the snapshot and the live view, and `changes` (when given) receives
  // the differences from the previous live view. On failure nothing changes.
  DeltaFailure apply_delta(const proto::Delta& d, std::vector<PresenceChange>* changes = nullptr);

  // A component answer (enabled / checkpointed) described its view as `state`. When the
  // live view has that digest, the live view becomes the snapshot and true is returned.
  bool adopt_if_matches(const proto::StateDigest& state);

 private:
  proto::PresenceState live_;
  proto::PresenceState snapshot_;
};

}  // namespace rpsync::client
