// SPDX-License-Identifier: MIT
// The delta from a key moment to the current view, and the wire size estimates of the
// too-large rule (engine.h: a delta fails when it would cost more than a normal login).
#pragma once

#include <cstdint>

namespace rpsync::core {

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

}  // namespace rpsync::core
