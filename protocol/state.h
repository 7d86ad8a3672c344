// SPDX-License-Identifier: MIT
// A user's presence state as a client holds it, and the laws between states and deltas:
//   apply(old, diff(old, new)) == new,   digest(apply(old, d)) == d.state when d is right.
#pragma once

#include <map>
#include <string>

#include "delta.h"
#include "digest.h"
#include "presence.h"

namespace rpsync::proto {

// full JID -> fields of every available contact resource.
using PresenceState = std::map<std::string, PresenceFields, std::less<>>;

StateDigest digest_of(const PresenceState& s);

// Bare part of a JID ("a@b/c" -> "a@b").
std::string_view bare_of(std::string_view jid);

// Applies d to s. Call it qualified (proto::apply): std::apply is found by ADL on std::map.
// Applies d to s. Returns false (s unspecified) when d does not fit s: a <new/> for a
// resource s already has, a <changed/> or <unavailable/> for one it lacks.
bool apply(PresenceState& s, const Delta& d);

// The minimal delta from `before` to `after` (contacts and digest are left to the caller;
// digest is set to digest_of(after)).
Delta diff(const PresenceState& before, const PresenceState& after);

}  // namespace rpsync::proto
