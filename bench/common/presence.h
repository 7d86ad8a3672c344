// SPDX-License-Identifier: MIT
// The load the bench programs generate: contacts named c000.., presence shaped like a real
// client's, and a timed XEP-0199 ping through the harness's c2s client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "protocol/xml.h"
#include "tests/harness/test_client.h"

namespace rpsync::bench {

// "c" + i with at least `digits` digits (zero-padded): c007, c0007.
std::string contact_name(int i, int digits);
// A contact presence shaped like a real client's: show (by `variant`), status, priority
// and caps.
xml::Element contact_presence(const std::string& status, int variant);
// Round trip in seconds of a ping to `to` (a component, or the server itself); nullopt when
// no result arrived within `timeout`.
std::optional<double> ping(test::TestClient& c, const std::string& to, const std::string& id,
                           std::chrono::milliseconds timeout);

}  // namespace rpsync::bench
