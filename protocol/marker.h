// SPDX-License-Identifier: MIT
// The synced marker (spec: "Skipping the Presence Flood"): an empty
// <synced xmlns='urn:xmpp:rpsync:0'/> child of the client's initial presence, sent only
// after a verified sync in the same session and only to a server advertising
// kSyncedFeature (whose gate module strips it and skips that presence's probes). The
// same element on the reflection of that presence is the server's confirmation (spec:
// "Confirmation by the Server").
#pragma once

#include <string_view>

#include "xml.h"

namespace rpsync::proto {

inline constexpr std::string_view kSyncedFeature = "urn:xmpp:rpsync:0#synced";
inline constexpr std::string_view kSyncedName = "synced";

xml::Element synced_marker();
// True when `presence` carries the marker as a direct child.
bool has_synced_marker(const xml::Element& presence);

}  // namespace rpsync::proto
