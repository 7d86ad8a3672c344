// SPDX-License-Identifier: MIT
// The delta from a key moment to the current view (engine.h: "A delta from moment (V, R0)
// ..."), and the wire size estimates of the too-large rule: a delta fails when it would
// cost more than a normal login.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plugin/core/packed_fields.h"
#include "protocol/delta.h"

namespace rpsync::core {

struct PresenceTable;

// Rough wire sizes (bytes): JIDs + field bytes + these fixed overheads.
constexpr std::uint64_t kPresenceOverhead = 60;  // <presence from to id> + </presence>
constexpr std::uint64_t kUnavailableOverhead = 60;
constexpr std::uint64_t kCapsOverhead = 60;
constexpr std::uint64_t kDeltaContactOverhead = 20;
constexpr std::uint64_t kDeltaNewOverhead = 30;
constexpr std::uint64_t kDeltaChangedOverhead = 30;
constexpr std::uint64_t kDeltaUnsetOverhead = 20;
constexpr std::uint64_t kDeltaUnavailableOverhead = 25;
constexpr std::uint64_t kFieldOverhead = 15;

// Estimated bytes of the fields of one presence.
std::uint64_t field_bytes(const Packed& p, const FieldTable& table);
// Estimated bytes of one presence stanza of a resource with that JID length and fields.
std::uint64_t presence_bytes(std::size_t jid_size, const Packed& p, const FieldTable& table);

// Estimated wire sizes: of the delta, and of what a normal login would cost instead.
struct DeltaCost {
  std::uint64_t delta = 0;
  std::uint64_t full = 0;
};

// The delta from the moment (version `v`, roster `r0`) to the current state of the
// roster `r1` (rosters are PresenceTable roster ids, kNone for an empty one). O(|R0| +
// |R1|) plus the resources of contacts changed after v. `cost` receives the estimates.
proto::Delta build_delta(const PresenceTable& table, std::uint32_t r0, std::uint64_t v,
                         std::uint32_t r1, DeltaCost& cost);

}  // namespace rpsync::core
