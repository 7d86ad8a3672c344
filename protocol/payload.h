// SPDX-License-Identifier: MIT
// Parses any rpsync request payload found in an IQ (the component's dispatch input).
#pragma once

#include <variant>

#include "error.h"
#include "session.h"
#include "sync.h"

namespace rpsync::proto {

using Request = std::variant<Enable, Checkpoint, Disable, Sync>;

// The first child of `iq` in the rpsync namespace, parsed. Errors: bad-request when
// there is none or it is malformed, feature-not-implemented for an unknown element.
Result<Request> parse_request(const xml::Element& iq, const Limits& limits = kDefaultLimits);

}  // namespace rpsync::proto
